/**
 * Chaos: the whole system as separate processes (Temporal workers per task queue, relay, projectors,
 * API), two instances of each (CHAOS_REPLICAS), under a load of orders with every outcome, while
 * processes are SIGKILLed at random and restarted (a relay picked is always one that leads a lane), and
 * RabbitMQ and Kafka are each stopped and started once. Afterwards the stores must agree with each
 * other exactly, no lane was left without a leader for longer than the lease allows, and no broker got
 * an event more often than the lane's leadership changes (and the known republish paths) explain.
 *
 * `npm run test:chaos` runs a long form (CHAOS_ORDERS=100, every instance killed); the full test run a
 * short one (every kind of process killed once, in one of its instances).
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
import { SYSTEM_PROCESSES, Supervisor, replicate } from '../../../workers/supervisor';
import { withWorkflowBundle } from '../../../workers/workflow-bundle';
import { PROJECTORS } from '../../../workers/projector';
import { orderWorkflowId } from '../../../workflows/order/contract';
import { operatorToken, customerToken } from '../../support/api';
import { makeCatalog } from '../../support/saga-fixtures';
import { createIsolatedEnvironment, freePort, type IsolatedEnvironment } from '../../support/isolated-environment';
import { REPO_DIR, requireService, stackService } from '../../support/stack';
import { consumerCoverage, liveAndRebuiltReadModels, moneyBalance, orderStatesFromLog, stockBalances } from './invariants';
import { brokerCopies, declareRabbitTap, kafkaTopicCopies, leaderlessGaps, watchLeases } from './leadership';
import { expectedStatuses, runOrderLoad, type LoadCatalog, type PlacedOrder } from './order-load';
import { ResilientApiClient } from './resilient-client';

const ORDERS = Number(process.env.CHAOS_ORDERS ?? 20);
const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 5);
const KILL_EVERY_MS = Number(process.env.CHAOS_KILL_EVERY_MS ?? 1500);
const MIN_UPTIME_MS = Number(process.env.CHAOS_MIN_UPTIME_MS ?? 8000);
const REPLICAS = Number(process.env.CHAOS_REPLICAS ?? 2);
/** Every instance killed at least once, not only every kind of process (the long form). */
const EVERY_INSTANCE = process.env.CHAOS_EVERY_INSTANCE === '1';
const STOCK = 500;
const LEASE_TTL_MS = 4000;
const LEASE_RENEW_MS = 500;
/** A standby takes over once the dead leader's lease ran out and its next try came; the slack is the loaded machine's. */
const TAKEOVER_BOUND_MS = LEASE_TTL_MS + LEASE_RENEW_MS + Number(process.env.CHAOS_TAKEOVER_SLACK_MS ?? 2000);
const RABBIT_TAP = 'chaos-publish-tap';

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
  /** Kills of a relay while it led lanes, with the lanes and the epochs of the terms that ended. */
  leaderKills: { name: string; lanes: string[]; epochs: number[] }[];
  outages: string[];
}

/** A replica's kind of process: `relay-2` is a `relay`. */
const kindOf = (name: string): string => (REPLICAS > 1 ? name.replace(/-\d+$/, '') : name);

/**
 * Until `done` resolves and every kind of process (every instance, with CHAOS_EVERY_INSTANCE=1) was
 * killed at least once, a leading relay among them: a SIGKILL every KILL_EVERY_MS to the next process of
 * a shuffled round that has been up for MIN_UPTIME_MS, RabbitMQ stopped and started after the second
 * kill, Kafka after the fourth. The supervisor restarts what was killed.
 */
async function unleashChaos(supervisor: Supervisor, done: Promise<unknown>, leaders: () => Map<string, { process: string | undefined; epoch: number }>): Promise<ChaosLog> {
  const log: ChaosLog = { kills: [], leaderKills: [], outages: [] };
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const names = supervisor.names();
  const required = EVERY_INSTANCE ? names : [...new Set(names.map(kindOf))];
  const killed = (required: string): boolean => log.kills.some((name) => name === required || kindOf(name) === required);
  const settled = (name: string): boolean => (supervisor.uptimeMs(name) ?? 0) >= MIN_UPTIME_MS;
  let round: string[] = [];
  while (!finished || !required.every(killed) || log.leaderKills.length === 0) {
    await sleep(KILL_EVERY_MS);
    if (round.length === 0) round = [...names].sort(() => Math.random() - 0.5);
    const picked = round.pop()!;
    // A relay picked is one that leads (the standby's death changes nothing).
    const leading = [...leaders()].filter(([, term]) => term.process !== undefined && kindOf(term.process) === kindOf(picked));
    const victim = leading.length > 0 ? leading[0]![1].process! : picked;
    // A process gets MIN_UPTIME_MS after each restart before it can be killed again: a crash loop
    // that never lets a worker finish starting (an order worker takes seconds here) is not the subject.
    // Nor is the death of every instance at once: each other instance of its kind must be up as long.
    const siblings = names.filter((name) => name !== victim && kindOf(name) === kindOf(victim));
    if (settled(victim) && siblings.every(settled) && supervisor.kill(victim, 'SIGKILL')) {
      log.kills.push(victim);
      const led = leading.filter(([, term]) => term.process === victim);
      if (led.length > 0) log.leaderKills.push({ name: victim, lanes: led.map(([lane]) => lane), epochs: led.map(([, { epoch }]) => epoch) });
    } else round.unshift(picked);
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
  let apiUrls: string[];
  let logFile: ReturnType<typeof createWriteStream>;
  let rabbitTap: Awaited<ReturnType<typeof declareRabbitTap>>;
  let leases: ReturnType<typeof watchLeases>;
  const exits: { name: string; at: number }[] = [];

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
    // Every copy of every event the relays (and the workflows' own publishing) send to RabbitMQ.
    rabbitTap = await declareRabbitTap(environment.env.RABBITMQ_URL!, RABBIT_TAP);
    supervisor = new Supervisor({
      // As npm start runs them: the order workers load a workflow bundle built once, not at every restart.
      env: await withWorkflowBundle({
        ...process.env,
        ...environment.env,
        RELAY_FAST_PATH_GRACE_MS: String(DEFAULT_RELAY_FAST_PATH_GRACE_MS),
        RELAY_LEASE_TTL_MS: String(LEASE_TTL_MS),
        RELAY_LEASE_RENEW_INTERVAL_MS: String(LEASE_RENEW_MS),
      }),
      restartDelayMs: 300,
      onLine: (name, line) => logFile.write(`[${name}] ${line}\n`),
      onExit: (name, code, signal) => {
        exits.push({ name, at: Date.now() });
        logFile.write(`[supervisor] ${name} exited (code ${code}, signal ${signal})\n`);
      },
    });
    // Each API instance on a free port of its own; the metrics servers on port 0 stay there.
    const processes = replicate(SYSTEM_PROCESSES, REPLICAS, { API_PORT: Number(environment.env.API_PORT), RELAY_METRICS_PORT: 0, PROJECTOR_ORDER_METRICS_PORT: 0, PROJECTOR_ANALYTICS_METRICS_PORT: 0 });
    apiUrls = [];
    for (const spec of processes.filter((p) => kindOf(p.name) === 'api')) {
      const port = apiUrls.length === 0 ? Number(environment.env.API_PORT) : await freePort();
      spec.env = { ...spec.env, API_PORT: String(port) };
      apiUrls.push(`http://127.0.0.1:${port}`);
    }
    supervisor.start(processes);
    leases = watchLeases(db, (pid) => supervisor.names().find((name) => supervisor.pid(name) === pid));
    api = new ResilientApiClient(apiUrls);
    for (const url of apiUrls) {
      await waitUntil(`the API at ${url} to be ready`, async () => (await fetch(`${url}/health/ready`)).status, (status) => status === 200, 120_000);
    }
  }, 240_000);

  afterAll(async () => {
    await leases?.stop();
    await supervisor?.stop();
    await db?.destroy();
    await new Promise((resolve) => (logFile ? logFile.end(resolve) : resolve(undefined)));
    // CHAOS_KEEP=1 keeps the run's database, vhost, topics and namespace for a post-mortem.
    if (!process.env.CHAOS_KEEP) await environment?.dispose();
  }, 120_000);

  it('ends every order, keeps money and stock balanced, and leaves read models equal to a rebuild', async () => {
    const startedAt = Date.now();
    const load = runOrderLoad(api, catalog, ORDERS, CONCURRENCY);
    const chaos = unleashChaos(supervisor, load.catch(() => undefined), () => leases.leaders());
    let placed: PlacedOrder[];
    try {
      placed = await load;
    } finally {
      await chaos;
    }
    const log = await chaos;
    // The run was chaotic indeed: every process (kind) died and came back, a leading relay among them,
    // both brokers went away once.
    const killedKinds = new Set(log.kills.map(kindOf));
    expect(killedKinds).toEqual(new Set(supervisor.names().map(kindOf)));
    if (EVERY_INSTANCE) expect(new Set(log.kills)).toEqual(new Set(supervisor.names()));
    expect(log.leaderKills.length).toBeGreaterThan(0);
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
      async () =>
        (await rabbitQueueDepths(() => true, environment.vhost)).filter((q) => q.name !== RABBIT_TAP && !q.name.includes('parking') && !q.name.includes('retry') && q.messages > 0),
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

    // Leadership: no lane went without a live leader for longer than the lease allows, and the relays
    // sent each broker each event at most once per term of the lane's leadership, plus once for a batch
    // in flight when the broker went away (sent again by the same leader once it was back). The
    // workflows' own publishing (fast path, publishing activity retried through an outage of the other
    // broker) adds copies of its own: counted apart, by the `published-by` header.
    // The chaos may have ended on a leader's death: the sampler must see each such term's successor
    // (within the takeover bound, checked below) before it stops.
    for (const { lanes: led, epochs } of log.leaderKills) {
      for (const [i, lane] of led.entries()) {
        await waitUntil(`a new term on ${lane} after epoch ${epochs[i]}`, async () => leases.latestEpoch(lane), (epoch) => epoch > epochs[i]!, TAKEOVER_BOUND_MS * 2);
      }
    }
    const { terms, failedSamples } = await leases.stop();
    const gaps = leaderlessGaps(terms, exits);
    const lanes = [...new Set(terms.map((t) => t.lane))].sort();
    expect(lanes).toEqual(['relay:kafka', 'relay:rabbitmq']);
    for (const { lanes: led } of log.leaderKills) for (const lane of led) expect(gaps.some((g) => g.lane === lane)).toBe(true);
    expect(gaps.filter((g) => g.ms > TAKEOVER_BOUND_MS)).toEqual([]);
    const logEventIds = await db('events').pluck<string[]>('event_id');
    const received = {
      rabbitmq: await rabbitTap.drain(),
      kafka: await kafkaTopicCopies(kafkaTopics(environment.topicPrefix).orderEvents, logEventIds.length),
    };
    const publishes: Record<string, unknown> = {};
    for (const broker of ['rabbitmq', 'kafka'] as const) {
      const copies = brokerCopies(received[broker], logEventIds);
      const leadershipChanges = terms.filter((t) => t.lane === relayCheckpointId('relay', broker)).length - 1;
      const relayDuplicatesPerChange = leadershipChanges > 0 ? Number((copies.relay.duplicates / leadershipChanges).toFixed(2)) : null;
      publishes[broker] = { ...copies, leadershipChanges, relayDuplicatesPerChange };
      expect({ broker, missing: copies.missing, unlabelled: copies.unlabelled }).toEqual({ broker, missing: 0, unlabelled: 0 });
      expect({ broker, relayMaxCopies: copies.relay.maxCopies <= 1 + leadershipChanges + 1 }).toEqual({ broker, relayMaxCopies: true });
    }
    const summary = {
      orders: ORDERS,
      replicas: REPLICAS,
      runMs: Date.now() - startedAt,
      kills: log.kills.length,
      leaderKills: log.leaderKills,
      takeoverBoundMs: TAKEOVER_BOUND_MS,
      maxLeaderlessMs: Math.max(0, ...gaps.map((g) => g.ms)),
      gaps,
      leaseSamplesFailed: failedSamples,
      publishes,
      apiRetries: api.retries,
    };
    logFile.write(`[chaos] ${JSON.stringify(summary)}\n`);
    console.log(JSON.stringify(summary));

    // Read models: exactly what a rebuild from the event log gives.
    const tables = await liveAndRebuiltReadModels(db, store);
    for (const [table, { live, rebuilt }] of Object.entries(tables)) {
      expect({ table, rows: live.length > 0 }).toEqual({ table, rows: true });
      expect({ table, live }).toEqual({ table, live: rebuilt });
    }
  }, 900_000);
});
