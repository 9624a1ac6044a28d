import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Knex } from 'knex';
import { freshBenchDatabase } from '../../../bench/support';
import { config } from '../../../config';
import { ORDER_EVENT_DEFINITIONS, orderStreamId, type OrderEvent } from '../../../domain';
import { EventRegistry, PostgresEventStore, type StoredEvent } from '../../../eventstore';
import { createKnex } from '../../../infra';
import { encodeEvent } from '../../../messaging/envelope';
import { rabbitManagementFetch } from '../../../messaging/rabbitmq/rabbitmq-management';
import { publishOptions } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { EVENTS_EXCHANGE, declareEventTopology } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { PROJECTIONS, createReadModelSchema, rebuildProjections } from '../../../projections';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../../support/sample-orders';
import { Supervisor } from '../../../workers/supervisor';
import { killInsideTransaction } from '../../support/kill-inside-transaction';
import { requireService } from '../../support/stack';
import { testLogger } from '../messaging/support';

/*
 * The order projector as a real process (workers/projector.ts under the system's own Supervisor, so
 * that signals reach node itself). It runs in an environment of its own on the shared servers: a fresh
 * database (its event store and read models hold only this suite's orders, so whole tables can be
 * compared) and a RabbitMQ virtual host (no other relay's events reach its queue).
 */

const tag = randomUUID().slice(0, 8);
const DATABASE = `orders_test_projector_process_${tag}`;
const VHOST = `test-projector-${tag}`;
const PROJECTOR = 'order-projector';
const PROJECTIONS_OF_ORDER_PROJECTOR = ['customer_orders', 'order_view'] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function management(method: string, path: string, body?: unknown): Promise<void> {
  const response = await rabbitManagementFetch(path, { method, body });
  if (!response.ok && !(method === 'DELETE' && response.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path} answered ${response.status}: ${await response.text()}`);
  }
}

async function rowsOf(db: Knex, table: string): Promise<unknown[]> {
  const { rows } = await db.raw<{ rows: { row: Record<string, unknown> }[] }>(`SELECT to_jsonb(t) AS row FROM ${table} t`);
  return rows.map((r) => r.row).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** One metric's samples from a Prometheus text exposition, by their label text. */
function samples(text: string, metric: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${metric}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (match) found.set(match[1] ?? '', Number(match[2]));
  }
  return found;
}

const sum = (values: Map<string, number>): number => [...values.values()].reduce((a, b) => a + b, 0);

describe('projector process (real Postgres and RabbitMQ)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let env: NodeJS.ProcessEnv;
  const lines: string[] = [];
  const supervisors: Supervisor[] = [];

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    db = await freshBenchDatabase(DATABASE, 6);
    store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS));
    const user = decodeURIComponent(new URL(config().RABBITMQ_URL).username) || 'guest';
    await management('PUT', `api/vhosts/${encodeURIComponent(VHOST)}`, {});
    await management('PUT', `api/permissions/${encodeURIComponent(VHOST)}/${encodeURIComponent(user)}`, { configure: '.*', write: '.*', read: '.*' });
    const rabbitUrl = new URL(config().RABBITMQ_URL);
    rabbitUrl.pathname = `/${encodeURIComponent(VHOST)}`;
    const databaseUrl = new URL(config().DATABASE_URL);
    databaseUrl.pathname = `/${DATABASE}`;
    env = {
      ...process.env,
      DATABASE_URL: databaseUrl.toString(),
      RABBITMQ_URL: rabbitUrl.toString(),
      PROJECTOR_ORDER_METRICS_PORT: '0',
      // Batches of up to 20 deliveries, one transaction each: the kill below lands inside one.
      PROJECTOR_BATCH_SIZE: '20',
      PROJECTOR_BATCH_LINGER_MS: '20',
      LOG_LEVEL: 'info',
    };
    connection = await amqp.connect(rabbitUrl.toString());
    channel = await connection.createConfirmChannel();
    await declareEventTopology(channel);
  });

  afterAll(async () => {
    await Promise.all(supervisors.map((s) => s.stop(2000)));
    await connection?.close().catch(() => undefined);
    await management('DELETE', `api/vhosts/${encodeURIComponent(VHOST)}`).catch(() => undefined);
    await db?.destroy();
    const admin = createKnex({ poolMax: 1, applicationName: 'jest-admin' });
    await admin.raw(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
    await admin.destroy();
  });

  function startProjector(): Supervisor {
    const supervisor = new Supervisor({ env, restartDelayMs: 1500, onLine: (_name, line) => lines.push(line) });
    supervisors.push(supervisor);
    supervisor.start([{ name: PROJECTOR, entrypoint: 'workers/projector.ts', args: ['order'] }]);
    return supervisor;
  }

  /** The metrics port of the n-th start of the projector (1-based), once it consumes. */
  async function started(n: number): Promise<number> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const starts = lines.filter((line) => line.includes('"projector started"'));
      if (starts.length >= n) return (JSON.parse(starts[n - 1]!) as { metricsPort: number }).metricsPort;
      if (Date.now() > deadline) throw new Error(`projector start ${n} not seen; its log:\n${lines.slice(-30).join('\n')}`);
      await sleep(100);
    }
  }

  const get = async (port: number, path: string): Promise<{ status: number; text: string }> => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, text: await response.text() };
  };

  async function publish(events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) {
      const encoded = encodeEvent(event);
      channel.publish(EVENTS_EXCHANGE, encoded.routingKey, encoded.body, publishOptions(encoded));
    }
    await channel.waitForConfirms();
  }

  /** How far the read models have applied each order, from their version tables. */
  async function appliedVersions(orderIds: readonly string[]): Promise<Map<string, number>[]> {
    return Promise.all(
      PROJECTIONS_OF_ORDER_PROJECTOR.map(async (name) => {
        const { rows } = await db.raw<{ rows: { order_id: string; last_version: string }[] }>(
          `SELECT order_id, last_version FROM ?? WHERE order_id = ANY (?)`,
          [PROJECTIONS[name].versionTable, [...orderIds]],
        );
        return new Map(rows.map((r) => [r.order_id, Number(r.last_version)]));
      }),
    );
  }

  async function caughtUp(finalVersions: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
    const ids = [...finalVersions.keys()];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tables = await appliedVersions(ids);
      if (tables.every((applied) => ids.every((id) => applied.get(id) === finalVersions.get(id)))) return;
      if (Date.now() > deadline) {
        const behind = ids.filter((id) => tables.some((applied) => applied.get(id) !== finalVersions.get(id)));
        throw new Error(`${behind.length} orders not caught up, e.g. ${behind.slice(0, 3).join(', ')}; log:\n${lines.slice(-20).join('\n')}`);
      }
      await sleep(200);
    }
  }

  const newHistory = (orderId: string, random: () => number): OrderEvent[] =>
    sampleOrderHistory({
      orderId,
      customerId: `cust-${tag}-${orderId.slice(-1)}`,
      currency: 'USD',
      skus: ['SKU-A', 'SKU-B', 'SKU-C'],
      scenario: pickScenario(random),
      startsAt: new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 10) * 86_400_000),
      random,
    });

  it('serves liveness, readiness and metrics, and closes them on SIGTERM', async () => {
    const supervisor = startProjector();
    const port = await started(1);
    expect(await get(port, '/health/live')).toEqual({ status: 200, text: JSON.stringify({ status: 'ok' }) });
    const ready = await get(port, '/health/ready');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready', checks: { postgres: { status: 'up' }, rabbitmq: { status: 'up' } } });

    // One order, all of it published, plus a repeat of its first event.
    const random = seededRandom(7);
    const orderId = `${tag}-health-0`;
    const history = newHistory(orderId, random);
    await appendOrderEvents(store, orderId, history, 0);
    const stored = await store.readStream(orderStreamId(orderId));
    await publish([...stored, stored[0]!]);
    await caughtUp(new Map([[orderId, history.length]]), 30_000);

    const text = await (async () => {
      // The duplicate may still be in flight when the rows are in.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const metrics = (await get(port, '/metrics')).text;
        if (sum(samples(metrics, 'projector_messages_total')) >= stored.length + 1 || Date.now() > deadline) return metrics;
        await sleep(100);
      }
    })();
    expect(samples(text, 'projector_messages_total')).toEqual(
      new Map([
        ['{outcome="processed"}', stored.length],
        ['{outcome="duplicate"}', 1],
      ]),
    );
    for (const name of PROJECTIONS_OF_ORDER_PROJECTOR) {
      const label = `{projection="${name}"}`;
      expect(samples(text, 'projector_events_applied_total').get(label)).toBe(stored.length);
      expect(samples(text, 'projector_gap_fetched_events_total').get(label)).toBe(0);
      expect(samples(text, 'projection_lag_events').get(label)).toBe(0);
      expect(samples(text, 'projection_lag_seconds').get(label)).toBe(0);
      expect(samples(text, 'projection_position').get(label)).toBe(Number(stored.at(-1)!.globalPosition));
      expect(samples(text, 'projection_head_position').get(label)).toBe(Number(stored.at(-1)!.globalPosition));
    }
    expect(sum(samples(text, 'projector_errors_total'))).toBe(0);
    // The order it projected ended well: no order awaits an operator.
    expect(samples(text, 'orders_compensation_failed')).toEqual(new Map([['', 0]]));
    expect(text).toContain('process_cpu_seconds_total');

    await supervisor.stop();
    expect(lines.some((line) => line.includes('"projector stopped"'))).toBe(true);
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  }, 120_000);

  it('killed (SIGKILL) mid-batch while events flow, then restarted, ends with the read models a rebuild from the event store makes', async () => {
    const startsBefore = lines.filter((line) => line.includes('"projector started"')).length;
    const supervisor = startProjector();
    await started(startsBefore + 1);

    // Four writers keep orders under way. Of what they append, some events are never published (the
    // projector must fetch them from the store when the next one of their order arrives) and some are
    // published twice; the last event of an order is always published, or nothing would announce it.
    const random = seededRandom(11);
    const finalVersions = new Map<string, number>();
    let writing = true;
    let published = 0;
    let orderCount = 0;
    const writers = Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          if (!writing) return;
          const orderId = `${tag}-crash-${orderCount++}`;
          const history = newHistory(orderId, random);
          finalVersions.set(orderId, history.length);
          for (let version = 0; version < history.length; ) {
            const n = Math.min(history.length - version, 1 + Math.floor(random() * 3));
            await appendOrderEvents(store, orderId, history.slice(version, version + n), version);
            const appended = await store.readStream(orderStreamId(orderId), { fromVersion: version + 1, limit: n });
            version += n;
            const toPublish = appended.flatMap((event) => {
              const last = event.streamVersion === history.length;
              const roll = random();
              if (!last && roll < 0.15) return [];
              return roll > 0.9 ? [event, event] : [event];
            });
            await publish(toPublish);
            published += toPublish.length;
            await sleep(5);
          }
        }
      }),
    );

    // Wait for work in flight, then freeze the process until it is caught inside a transaction, and kill it there.
    const processed = async (): Promise<number> =>
      Number((await db('processed_messages').where({ consumer_name: PROJECTOR }).count<{ count: string }[]>('* as count'))[0]!.count);
    while ((await processed()) < 60) await sleep(100);
    const killedInTransaction = await killInsideTransaction(db, supervisor, { name: PROJECTOR, database: DATABASE, applicationName: PROJECTOR, attempts: 200, random });
    expect(killedInTransaction).toBe(true);
    const processedAtKill = await processed();

    // The supervisor restarts it; the writers go on meanwhile, then finish the orders they have begun.
    const port = await started(startsBefore + 2);
    expect(supervisor.restarts(PROJECTOR)).toBe(1);
    while ((await processed()) < processedAtKill + 60) await sleep(100);
    writing = false;
    await writers;
    await caughtUp(finalVersions, 90_000);

    const text = (await get(port, '/metrics')).text;
    // The restarted process had work left over: gaps to fetch, and deliveries it had seen or was handed twice.
    for (const name of PROJECTIONS_OF_ORDER_PROJECTOR) {
      expect(samples(text, 'projector_gap_fetched_events_total').get(`{projection="${name}"}`)).toBeGreaterThan(0);
      expect(samples(text, 'projection_lag_events').get(`{projection="${name}"}`)).toBe(0);
    }
    expect(samples(text, 'projector_messages_total').get('{outcome="duplicate"}')).toBeGreaterThan(0);
    expect(published).toBeGreaterThan(0);
    await supervisor.stop();

    // Deliveries went in batches: the claims of one transaction share its now().
    const { rows: batchSizes } = await db.raw<{ rows: { n: string }[] }>(
      'SELECT count(*) AS n FROM processed_messages WHERE consumer_name = ? GROUP BY processed_at',
      [PROJECTOR],
    );
    expect(Math.max(...batchSizes.map((r) => Number(r.n)))).toBeGreaterThan(1);
    expect(Math.max(...batchSizes.map((r) => Number(r.n)))).toBeLessThanOrEqual(20);

    // A fresh rebuild from the event store, into tables of its own, equals the live tables row for row.
    await createReadModelSchema(db, 'rebuilt');
    await rebuildProjections({ db, store, logger: testLogger('rebuild') }, PROJECTIONS_OF_ORDER_PROJECTOR, { schema: 'rebuilt' });
    for (const name of PROJECTIONS_OF_ORDER_PROJECTOR) {
      for (const table of PROJECTIONS[name].tables) {
        const live = await rowsOf(db, `public.${table}`);
        expect(live.length).toBeGreaterThan(0);
        expect(live).toEqual(await rowsOf(db, `rebuilt.${table}`));
      }
    }
  }, 240_000);

  it('two instances on the one quorum queue apply every event once and in order per order: the read models equal a rebuild', async () => {
    const byInstance = new Map<string, string[]>([
      ['order-projector-1', []],
      ['order-projector-2', []],
    ]);
    // A queue of their own (and its own dedup records), so that whatever an earlier test left queued is not theirs.
    const pairEnv = { ...env, PROJECTOR_CONSUMER_NAME: `order-projector-pair-${tag}` };
    const supervisor = new Supervisor({ env: pairEnv, restartDelayMs: 1500, onLine: (name, line) => byInstance.get(name)?.push(line) });
    supervisors.push(supervisor);
    supervisor.start([...byInstance.keys()].map((name) => ({ name, entrypoint: 'workers/projector.ts', args: ['order'] })));
    const ports = await Promise.all(
      [...byInstance.values()].map(async (instanceLines) => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const start = instanceLines.find((line) => line.includes('"projector started"'));
          if (start) return (JSON.parse(start) as { metricsPort: number }).metricsPort;
          if (Date.now() > deadline) throw new Error(`an instance did not start; its log:\n${instanceLines.slice(-30).join('\n')}`);
          await sleep(100);
        }
      }),
    );

    // Orders written by four writers at once; each event published once, some twice, in commit order:
    // the two instances take turns on the queue, so an order's events are split between them.
    const random = seededRandom(23);
    const finalVersions = new Map<string, number>();
    let orderCount = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let n = 0; n < 10; n++) {
          const orderId = `${tag}-pair-${orderCount++}`;
          const history = newHistory(orderId, random);
          finalVersions.set(orderId, history.length);
          for (let version = 0; version < history.length; version++) {
            await appendOrderEvents(store, orderId, history.slice(version, version + 1), version);
            const [event] = await store.readStream(orderStreamId(orderId), { fromVersion: version + 1, limit: 1 });
            await publish(random() > 0.9 ? [event!, event!] : [event!]);
          }
        }
      }),
    );
    await caughtUp(finalVersions, 90_000);

    // Both instances did part of the work, and between them applied each event exactly once to each
    // read model (one applied it, or fetched it to fill a gap; the other saw a duplicate).
    const totalEvents = [...finalVersions.values()].reduce((a, b) => a + b, 0);
    const applied = await Promise.all(ports.map(async (port) => samples((await get(port, '/metrics')).text, 'projector_events_applied_total')));
    for (const name of PROJECTIONS_OF_ORDER_PROJECTOR) {
      const perInstance = applied.map((metrics) => metrics.get(`{projection="${name}"}`) ?? 0);
      for (const count of perInstance) expect(count).toBeGreaterThan(0);
      expect(perInstance.reduce((a, b) => a + b, 0)).toBe(totalEvents);
    }
    await supervisor.stop();

    await createReadModelSchema(db, 'rebuilt_pair');
    await rebuildProjections({ db, store, logger: testLogger('rebuild') }, PROJECTIONS_OF_ORDER_PROJECTOR, { schema: 'rebuilt_pair' });
    for (const name of PROJECTIONS_OF_ORDER_PROJECTOR) {
      for (const table of PROJECTIONS[name].tables) {
        const live = await rowsOf(db, `public.${table}`);
        expect(live.length).toBeGreaterThan(0);
        expect(live).toEqual(await rowsOf(db, `rebuilt_pair.${table}`));
      }
    }
  }, 240_000);
});
