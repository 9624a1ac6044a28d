/**
 * A whole environment of its own on the same servers, for a run of the system's real processes (the
 * chaos test, bench:e2e): a fresh database, a RabbitMQ virtual host, Kafka topics under a prefix, and
 * a Temporal namespace. Processes started with `env` see nothing of
 * other tests or of `npm start`, so a run can be checked over whole tables.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { reloadConfig } from '../../config';
import { createKafka, createKnex, temporalConnectionOptions } from '../../infra';
import { migrateToLatest } from '../../infra/migrate';
import { kafkaTopicConfigs } from '../../messaging/kafka/kafka-topics';
import { rabbitManagementFetch } from '../../messaging/rabbitmq/rabbitmq-management';
import { CustomerIdKey, OrderStatusKey, OrderTotalKey } from '../../workflows/search-attributes';

export interface IsolatedEnvironment {
  /** Its Temporal namespace, like everything else made for this run and deleted by dispose(). */
  namespace: string;
  tag: string;
  /** The variables that put a process into this environment. */
  env: Record<string, string>;
  apiUrl: string;
  vhost: string;
  topicPrefix: string;
  databaseUrl: string;
  /**
   * Moves this whole process into the environment: process.env and config() from now on. For a
   * benchmark's own process; a jest test uses explicit connections instead (its env is shared).
   */
  enter(): void;
  dispose(): Promise<void>;
}

/** A TCP port free on the loopback now (for a further API instance of an environment). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function management(method: string, path: string, body?: unknown): Promise<void> {
  const response = await rabbitManagementFetch(path, { method, body });
  if (!response.ok && !(method === 'DELETE' && response.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path} answered ${response.status}: ${await response.text()}`);
  }
}

/**
 * A namespace of its own per run, with the search attributes the order workflow sets. (Reusing one
 * would leave the task-queue backlog of an earlier run's workflows in front of this run's.)
 */
async function createNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const types = temporal.api.enums.v1.IndexedValueType;
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {
    [OrderStatusKey.name]: types.INDEXED_VALUE_TYPE_KEYWORD,
    [CustomerIdKey.name]: types.INDEXED_VALUE_TYPE_KEYWORD,
    [OrderTotalKey.name]: types.INDEXED_VALUE_TYPE_DOUBLE,
  };
  // A new namespace takes a moment to reach the frontend's cache: retry until it answers.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      if (Object.keys(searchAttributes).every((name) => name in (listed.customAttributes ?? {}))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`search attributes of ${namespace} not visible after 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Ends the namespace's running workflows (one batch operation) and deletes it; the server finishes on its own. */
async function deleteNamespace(connection: Connection, namespace: string): Promise<void> {
  await connection.workflowService
    .startBatchOperation({ namespace, visibilityQuery: 'ExecutionStatus = "Running"', jobId: randomUUID(), reason: 'environment disposed', terminationOperation: {} })
    .catch(() => undefined);
  await connection.operatorService.deleteNamespace({ namespace }).catch(() => undefined);
}

/** `kind` names everything it makes (e.g. 'chaos': database orders_chaos_<tag>, namespace orders-chaos-<tag>). */
export async function createIsolatedEnvironment(kind: string): Promise<IsolatedEnvironment> {
  if (!/^[a-z][a-z0-9]*$/.test(kind)) throw new RangeError(`kind must be lower-case letters and digits: ${kind}`);
  const base = reloadConfig();
  const tag = randomUUID().slice(0, 8);
  const database = `orders_${kind}_${tag}`;
  const vhost = `${kind}-${tag}`;
  const topicPrefix = `${kind}-${tag}.`;
  const namespace = `orders-${kind}-${tag}`;

  // Leftovers of interrupted runs first: databases and virtual hosts named like ours.
  const admin = createKnex({ poolMax: 1, applicationName: `${kind}-admin` });
  try {
    const { rows } = await admin.raw<{ rows: { datname: string }[] }>("SELECT datname FROM pg_database WHERE datname LIKE ?", [`orders\\_${kind}\\_%`]);
    for (const { datname } of rows) await admin.raw(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.raw(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.destroy();
  }
  const vhosts = (await (await rabbitManagementFetch('api/vhosts?columns=name')).json()) as { name: string }[];
  for (const { name } of vhosts.filter((v) => v.name.startsWith(`${kind}-`))) await management('DELETE', `api/vhosts/${encodeURIComponent(name)}`);
  const user = decodeURIComponent(new URL(base.RABBITMQ_URL).username) || 'guest';
  await management('PUT', `api/vhosts/${encodeURIComponent(vhost)}`, {});
  await management('PUT', `api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });

  const kafkaAdmin = createKafka(`${kind}-admin`).admin();
  await kafkaAdmin.connect();
  try {
    const stale = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(`${kind}-`));
    if (stale.length > 0) await kafkaAdmin.deleteTopics({ topics: stale });
    await kafkaAdmin.createTopics({ topics: kafkaTopicConfigs(topicPrefix), waitForLeaders: true });
  } finally {
    await kafkaAdmin.disconnect();
  }
  const connection = await Connection.connect(await temporalConnectionOptions());
  try {
    // Namespaces of interrupted runs first.
    const { namespaces } = await connection.workflowService.listNamespaces({ pageSize: 1000 });
    for (const info of namespaces ?? []) {
      const name = info.namespaceInfo?.name ?? '';
      if (name.startsWith(`orders-${kind}-`) && info.namespaceInfo?.state === temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_REGISTERED) {
        await deleteNamespace(connection, name);
      }
    }
    await createNamespace(connection, namespace);
  } finally {
    await connection.close();
  }

  const databaseUrl = new URL(base.DATABASE_URL);
  databaseUrl.pathname = `/${database}`;
  const rabbitUrl = new URL(base.RABBITMQ_URL);
  rabbitUrl.pathname = `/${encodeURIComponent(vhost)}`;
  const apiPort = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl.toString(),
    RABBITMQ_URL: rabbitUrl.toString(),
    KAFKA_TOPIC_PREFIX: topicPrefix,
    TEMPORAL_NAMESPACE: namespace,
    API_PORT: String(apiPort),
    API_HOST: '127.0.0.1',
    RELAY_METRICS_PORT: '0',
    PROJECTOR_ORDER_METRICS_PORT: '0',
    PROJECTOR_ANALYTICS_METRICS_PORT: '0',
    // Restarted processes find work waiting: short polls keep the run short.
    RELAY_MAX_POLL_INTERVAL_MS: '200',
  };

  const db = createKnex({ poolMax: 2, applicationName: `${kind}-migrate`, databaseUrl: env.DATABASE_URL });
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }

  return {
    namespace,
    tag,
    env,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    databaseUrl: env.DATABASE_URL!,
    vhost,
    topicPrefix,
    enter() {
      Object.assign(process.env, env);
      reloadConfig();
    },
    async dispose() {
      const connection = await Connection.connect(await temporalConnectionOptions());
      await deleteNamespace(connection, namespace).finally(() => connection.close());
      await management('DELETE', `api/vhosts/${encodeURIComponent(vhost)}`).catch(() => undefined);
      const kafka = createKafka(`${kind}-admin`).admin();
      await kafka.connect();
      await kafka.deleteTopics({ topics: kafkaTopicConfigs(topicPrefix).map((t) => t.topic) }).catch(() => undefined);
      await kafka.disconnect();
      const dropper = createKnex({ poolMax: 1, applicationName: `${kind}-admin` });
      await dropper.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`).catch(() => undefined);
      await dropper.destroy();
    },
  };
}
