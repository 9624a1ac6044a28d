/**
 * What the running servers need from us before the app starts, for each environment that shares
 * them (stack/environments.ts: the dev system's and the test suite's): a database with the newest
 * schema, a RabbitMQ virtual host, Kafka topics. Temporal namespaces come with the server
 * (stack/services/temporal.sh). Run by stack/up.sh after every service is healthy; idempotent.
 */
import type { Knex } from 'knex';
import { logLevel, type logCreator } from 'kafkajs';
import { config, parseConfig, type Env } from '../config';
import { createIdempotentProducer, createKafka, createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';
import { kafkaTopicConfigs } from '../messaging/kafka/kafka-topics';
import { rabbitManagementFetch, vhostOf } from '../messaging/rabbitmq/rabbitmq-management';
import { testEnvironment } from './environments';

interface Environment {
  name: string;
  env: Env;
}

const say = (message: string): void => console.error(`[stack] ${message}`);

// Retriable answers of a broker whose coordinators are still starting (their internal topics are made on
// first use, and a group's coordinator may move while they settle): kafkajs logs them at ERROR while it
// retries. A fresh stack always gives some.
const COORDINATOR_STARTING = /coordinator is (loading|not available)|not the correct coordinator/i;

/**
 * kafkajs's log for provisioning: its retries while the coordinators start are kept quiet (should they
 * run out, the call fails and says why); any other warning or error is printed as a [stack] line.
 */
const provisionKafkaLog: logCreator = () => ({ level, log }) => {
  const { message, error } = log as { message: string; error?: unknown };
  const text = error === undefined ? message : `${message}: ${String(error)}`;
  if (level > logLevel.WARN || COORDINATOR_STARTING.test(text)) return;
  say(`kafka ${level === logLevel.ERROR ? 'error' : 'warning'}: ${text}`);
};
const provisioningKafka = () => createKafka('provision', { logCreator: provisionKafkaLog });

async function createTopics(environments: readonly Environment[]): Promise<void> {
  const admin = provisioningKafka().admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = environments.flatMap(({ env }) => kafkaTopicConfigs(env.KAFKA_TOPIC_PREFIX)).filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
      say(`created Kafka topics: ${missing.map((t) => t.topic).join(', ')}`);
    }
    // Warm the group and transaction coordinators (their internal topics are created on first use),
    // so the stack counts as up only when consumer groups and idempotent producers work.
    await admin.describeGroups(['provision-warmup']);
  } finally {
    await admin.disconnect();
  }
  const producer = createIdempotentProducer(provisioningKafka());
  await producer.connect();
  await producer.disconnect();
}

const DUPLICATE_DATABASE = '42P04';

/** `admin` is a connection to a database that exists (the dev one); the role it uses becomes the owner. */
async function ensureDatabase(admin: Knex, url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const { rows } = await admin.raw<{ rows: unknown[] }>('SELECT 1 FROM pg_database WHERE datname = ?', [name]);
  if (rows.length > 0) return;
  try {
    await admin.raw('CREATE DATABASE ??', [name]);
    say(`created database ${name}`);
  } catch (err) {
    // Another provisioning run (a second clone's `npm test`) got there first.
    if ((err as { code?: string }).code !== DUPLICATE_DATABASE) throw err;
  }
}

async function migrate(environments: readonly Environment[]): Promise<void> {
  const admin = createKnex({ poolMax: 1, applicationName: 'provision' });
  try {
    for (const { env } of environments) await ensureDatabase(admin, env.DATABASE_URL);
  } finally {
    await admin.destroy();
  }
  for (const { name, env } of environments) {
    const db = createKnex({ poolMax: 2, applicationName: 'provision', databaseUrl: env.DATABASE_URL });
    try {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) say(`applied migrations (${name}): ${applied.join(', ')}`);
    } finally {
      await db.destroy();
    }
  }
}

async function management(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<Response> {
  const response = await rabbitManagementFetch(path, { method, body });
  if (!response.ok && !(method === 'GET' && response.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path} answered ${response.status}: ${await response.text()}`);
  }
  return response;
}

/** The vhost of each environment, open to the user its URL logs in as (the broker's default vhost exists already). */
async function createVhosts(environments: readonly Environment[]): Promise<void> {
  for (const { env } of environments) {
    const vhost = vhostOf(env.RABBITMQ_URL);
    if (vhost === '/') continue;
    const user = decodeURIComponent(new URL(env.RABBITMQ_URL).username) || 'guest';
    const path = `api/vhosts/${encodeURIComponent(vhost)}`;
    if ((await management('GET', path)).status === 404) {
      await management('PUT', path, {});
      say(`created RabbitMQ vhost ${vhost}`);
    }
    await management('PUT', `api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
  }
}

async function main(): Promise<void> {
  const dev = config();
  const environments: Environment[] = [
    { name: 'dev', env: dev },
    { name: 'test', env: parseConfig({ ...process.env, ...testEnvironment(dev) }) },
  ];
  await Promise.all([createTopics(environments), migrate(environments), createVhosts(environments)]);
}

main().catch((err: unknown) => {
  console.error('[stack] provisioning failed:', err);
  process.exit(1);
});
