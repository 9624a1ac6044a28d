/**
 * Chaos: the whole system as separate processes (Temporal workers per task queue, relay, projectors,
 * API) under a load of orders with every outcome, while processes are SIGKILLed at random and
 * restarted, and RabbitMQ and Kafka are each stopped and started once. Afterwards the stores must
 * agree with each other exactly.
 *
 * `npm run test:chaos` runs a long form (CHAOS_ORDERS=100); the full test run a short one.
 */
import { mkdirSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Knex } from 'knex';
import { DEFAULT_RELAY_FAST_PATH_GRACE_MS } from '../../../config';
import { createKafka, createKnex, temporalClient, temporalConnectionOptions } from '../../../infra';
import { PostgresEventStore } from '../../../eventstore';
import { TERMINAL_STATUSES } from '../../../domain';
import { kafkaConsumerLag } from '../../../messaging/kafka/kafka-lag';
import { kafkaGroupId, kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { rabbitQueueDepths } from '../../../messaging/rabbitmq/rabbitmq-management';
import { relayCheckpointId } from '../../../messaging/relay/outbox-relay';
import { loadCheckpoint } from '../../../eventstore';
import { orderRegistry } from '../../../domain';
import { SYSTEM_PROCESSES, Supervisor } from '../../../workers/supervisor';
import { withWorkflowBundle } from '../../../workers/workflow-bundle';
import { PROJECTORS } from '../../../workers/projector';
import { orderWorkflowId } from '../../../workflows/order/contract';
import { operatorToken, customerToken } from '../../support/api';
import { makeCatalog } from '../../support/saga-fixtures';
import { createIsolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-environment';
import { REPO_DIR, requireService, stackService } from '../../support/stack';
import { consumerCoverage, liveAndRebuiltReadModels, moneyBalance, orderStatesFromLog, stockBalances } from './invariants';
import { expectedStatuses, runOrderLoad, type LoadCatalog, type PlacedOrder } from './order-load';
import { ResilientApiClient } from './resilient-client';

const ORDERS = Number(process.env.CHAOS_ORDERS ?? 20);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 5);
const KILL_EVERY_MS = Number(process.env.CHAOS_KILL_EVERY_MS ?? 1500);
const MIN_UPTIME_MS = Number(process.env.CHAOS_MIN_UPTIME_MS ?? 8000);
const STOCK = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch((err: unknown) => err as T);
    if (!(value instanceof Error) && done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last: ${value instanceof Error ? value.message : JSON.stringify(value)}`);
    await sleep(250);
  }
}

interface ChaosLog {
  kills: string[];
  outages: string[];
}

/**
 * Until `done` resolves and every process was killed at least once: a SIGKILL every KILL_EVERY_MS to
 * the next process of a shuffled round that has been up for MIN_UPTIME_MS, RabbitMQ stopped and started after the second kill, Kafka
 * after the fourth. The supervisor restarts what was killed.
 */
async function unleashChaos(supervisor: Supervisor, done: Promise<unknown>): Promise<ChaosLog> {
  const log: ChaosLog = { kills: [], outages: [] };
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const names = supervisor.names();
  let round: string[] = [];
  while (!finished || names.some((name) => !log.kills.includes(name))) {
    await sleep(KILL_EVERY_MS);
    if (round.length === 0) round = [...names].sort(() => Math.random() - 0.5);
    const victim = round.pop()!;
    // A process gets MIN_UPTIME_MS after each restart before it can be killed again: a crash loop
    // that never lets a worker finish starting (an order worker takes seconds here) is not the subject.
    const up = supervisor.uptimeMs(victim);
    if (up !== undefined && up >= MIN_UPTIME_MS && supervisor.kill(victim, 'SIGKILL')) log.kills.push(victim);
    else round.unshift(victim);
    const outage = log.kills.length === 2 ? 'rabbitmq' : log.kills.length === 4 ? 'kafka' : undefined;
    if (outage && !log.outages.includes(outage)) {
      log.outages.push(outage);
      await stackService(outage, 'down');
      await sleep(2000);
      await stackService(outage, 'up');
    }
  }
  return log;
}

describe('chaos: random SIGKILLs and broker restarts under a load of orders (real processes and servers)', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let store: PostgresEventStore;
  let supervisor: Supervisor;
  let catalog: LoadCatalog;
  let api: ResilientApiClient;
  let logFile: ReturnType<typeof createWriteStream>;

  beforeAll(async () => {
    for (const service of ['postgres', 'rabbitmq', 'kafka', 'temporal'] as const) requireService(service);
    environment = await createIsolatedEnvironment('chaos');
    db = createKnex({ poolMax: 5, applicationName: 'chaos-test', databaseUrl: environment.databaseUrl });
    store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
    const made = await makeCatalog(db, STOCK);
    catalog = {
      sku: made.sku,
      stock: STOCK,
      tokens: {
        good: await customerToken(db, made.customers.good),
        declines: await customerToken(db, made.customers.declines),
        undeliverable: await customerToken(db, made.customers.undeliverable),
        operator: await operatorToken(db),
      },
    };

    // Every process's output goes to one artifact file, prefixed with its name: the story of the run.
    const artifacts = path.join(REPO_DIR, 'test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    logFile = createWriteStream(path.join(artifacts, `chaos-${environment.tag}.log`));
    supervisor = new Supervisor({
      // As npm start runs them: the order workers load a workflow bundle built once, not at every restart.
      env: await withWorkflowBundle({ ...process.env, ...environment.env, RELAY_FAST_PATH_GRACE_MS: String(DEFAULT_RELAY_FAST_PATH_GRACE_MS) }),
      restartDelayMs: 300,
      onLine: (name, line) => logFile.write(`[${name}] ${line}\n`),
      onExit: (name, code, signal) => logFile.write(`[supervisor] ${name} exited (code ${code}, signal ${signal})\n`),
    });
    supervisor.start(SYSTEM_PROCESSES);
    api = new ResilientApiClient(environment.apiUrl);
    await waitUntil(
      'the API to be ready',
      async () => (await fetch(`${environment.apiUrl}/health/ready`)).status,
      (status) => status === 200,
      90_000,
    );
  }, 180_000);

  afterAll(async () => {
    await supervisor?.stop();
    await db?.destroy();
    await new Promise((resolve) => (logFile ? logFile.end(resolve) : resolve(undefined)));
    // CHAOS_KEEP=1 keeps the run's database, vhost, topics and namespace for a post-mortem.
    if (!process.env.CHAOS_KEEP) await environment?.dispose();
  }, 120_000);

  it('ends every order, keeps money and stock balanced, and leaves read models equal to a rebuild', async () => {
    const load = runOrderLoad(api, catalog, ORDERS, CONCURRENCY);
    const chaos = unleashChaos(supervisor, load.catch(() => undefined));
    let placed: PlacedOrder[];
    try {
      placed = await load;
    } finally {
      await chaos;
    }
    const log = await chaos;
    // The run was chaotic indeed: every process died and came back, both brokers went away once.
    expect(new Set(log.kills)).toEqual(new Set(supervisor.names()));
    expect(log.outages.sort()).toEqual(['kafka', 'rabbitmq']);
    const kills = (name: string): number => log.kills.filter((killed) => killed === name).length;
    await waitUntil(
      'every killed process to be restarted',
      async () => supervisor.names().filter((name) => supervisor.restarts(name) < kills(name) || supervisor.pid(name) === undefined),
      (down) => down.length === 0,
      30_000,
    );
    expect(placed).toHaveLength(ORDERS);

    // Every order ended as its path says, per the read model...
    for (const order of placed) expect({ orderId: order.orderId, plan: order.plan, ok: expectedStatuses(order.plan).includes(order.status) }).toEqual({ orderId: order.orderId, plan: order.plan, ok: true });
    // ... per the event log ...
    const ids = placed.map((o) => o.orderId);
    const states = await orderStatesFromLog(store, ids);
    for (const order of placed) expect(states.get(order.orderId)?.status).toBe(order.status);
    // ... and per Temporal: every workflow closed.
    const connection = await Connection.connect(await temporalConnectionOptions());
    try {
      const client = temporalClient(connection, environment.namespace);
      for (const orderId of ids) {
        const description = await waitUntil(`workflow of ${orderId} to close`, () => client.workflow.getHandle(orderWorkflowId(orderId)).describe(), (d) => d.status.name !== 'RUNNING', 30_000);
        expect(description.status.name).toBe('COMPLETED');
      }
    } finally {
      await connection.close();
    }
    expect([...states.values()].every((s) => TERMINAL_STATUSES.includes(s.status))).toBe(true);

    // Money: nobody charged twice; what was kept equals the revenue of delivered orders.
    const money = await moneyBalance(db, states);
    expect(money.chargedTwice).toEqual([]);
    expect(money.capturedMinor - money.refundedMinor).toBe(money.deliveredRevenueMinor);
    expect(money.deliveredRevenueMinor).toBeGreaterThan(0);

    // Stock: nothing created or lost, nothing left reserved, sold matches the delivered orders.
    for (const stock of await stockBalances(db, Object.values(catalog.sku), STOCK, states)) {
      expect(stock).toEqual({ ...stock, reserved: 0, sold: stock.soldPerLog });
      expect(stock.available + stock.reserved + stock.sold).toBe(STOCK);
    }

    // The pipeline drained: the relay published everything, the queues are empty but for parked
    // messages, the analytics group has consumed the whole topic.
    const head = await store.headCheckpoint();
    await waitUntil(
      'the relay lanes to reach the head of the log',
      async () => Promise.all(['rabbitmq', 'kafka'].map((broker) => loadCheckpoint(db, relayCheckpointId('relay', broker as 'rabbitmq' | 'kafka')))),
      (lanes) => lanes.every((c) => c.transactionId > head.transactionId || (c.transactionId === head.transactionId && c.globalPosition >= head.globalPosition)),
      60_000,
    );
    for (const consumer of [PROJECTORS.order.consumer, kafkaGroupId(PROJECTORS.analytics.consumer, environment.topicPrefix)]) {
      const coverage = await waitUntil(`${consumer} to take every event`, () => consumerCoverage(db, consumer), (c) => c.missing === 0, 60_000);
      expect(coverage).toEqual({ consumer, events: coverage.events, processed: coverage.events, missing: 0, unknown: 0 });
    }
    const unparked = await waitUntil(
      'the RabbitMQ queues to drain',
      async () => (await rabbitQueueDepths(() => true, environment.vhost)).filter((q) => !q.name.includes('parking') && !q.name.includes('retry') && q.messages > 0),
      (queues) => queues.length === 0,
      30_000,
    );
    expect(unparked).toEqual([]);
    const admin = createKafka('chaos-test').admin();
    await admin.connect();
    try {
      const [lag] = await kafkaConsumerLag(admin, { groupIds: [kafkaGroupId(PROJECTORS.analytics.consumer, environment.topicPrefix)], topic: kafkaTopics(environment.topicPrefix).orderEvents });
      expect(lag?.lag).toBe(0);
    } finally {
      await admin.disconnect();
    }

    // Read models: exactly what a rebuild from the event log gives.
    const tables = await liveAndRebuiltReadModels(db, store);
    for (const [table, { live, rebuilt }] of Object.entries(tables)) {
      expect({ table, rows: live.length > 0 }).toEqual({ table, rows: true });
      expect({ table, live }).toEqual({ table, live: rebuilt });
    }
  }, 900_000);
});
