import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Client as PgClient } from 'pg';
import { freshBenchDatabase } from '../../../bench/support';
import { config } from '../../../config';
import { ORDER_EVENT_DEFINITIONS, orderStateFrom, orderStreamId, toOrderEvent } from '../../../domain';
import { EventRegistry, PostgresEventStore, listenForAppends, type Subscription } from '../../../eventstore';
import { createKnex } from '../../../infra/postgres';
import {
  PROJECTION_NAMES,
  ProjectionRunner,
  RebuildInProgressError,
  createReadModelSchema,
  rebuildProjection,
  rebuildProjections,
  startSubscriptionProjector,
} from '../../../projections';
import { holdSwapLockShared, releaseRebuildLock, tryRebuildLock } from '../../../projections/engine/locks';
import { orderViewRow } from '../../../projections/read-models/order-view';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../../support/sample-orders';
import { requireService } from '../../support/stack';

async function rowsOf(db: Knex, table: string, where: string, bindings: Knex.RawBinding[]): Promise<unknown[]> {
  const { rows } = await db.raw<{ rows: { row: Record<string, unknown> }[] }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE ${where}`, bindings);
  return rows.map((r) => r.row).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

async function indexNames(db: Knex, schema: string): Promise<string[]> {
  const { rows } = await db.raw<{ rows: { indexname: string }[] }>('SELECT indexname FROM pg_indexes WHERE schemaname = ? ORDER BY 1', [schema]);
  return rows.map((r) => r.indexname);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// A rebuild reads the whole log, so this suite has a database of its own: its time does not grow with
// the shared database's history, and its table swaps touch nobody else's read models.
const DATABASE = `orders_test_projection_rebuild_${randomUUID().slice(0, 8)}`;

function connect(applicationName: string): PgClient {
  const url = new URL(config().DATABASE_URL);
  url.pathname = `/${DATABASE}`;
  return new PgClient({ connectionString: url.toString(), application_name: applicationName });
}

describe('projection rebuild (real Postgres)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  // The live read models are rebuilt under load; `reference` is only ever fed incrementally, to compare with.
  const live = 'public';
  const reference = 'reference';

  beforeAll(async () => {
    requireService('postgres');
    db = await freshBenchDatabase(DATABASE, 30);
    store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS));
    await createReadModelSchema(db, reference);
  });
  afterAll(async () => {
    await db?.destroy();
    const admin = createKnex({ poolMax: 1, applicationName: 'jest-admin' });
    await admin.raw(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
    await admin.destroy();
  });

  it('loses nothing while events are appended: the swapped-in tables equal the incremental ones, row for row', async () => {
    const tag = randomUUID().slice(0, 8);
    const random = seededRandom(23);
    const currency = 'QRB';
    const skus = [0, 1, 2, 3, 4].map((k) => `SKU-${tag}-${k}`);
    const orders: { orderId: string; history: ReturnType<typeof sampleOrderHistory> }[] = [];
    const newOrder = (): { orderId: string; history: ReturnType<typeof sampleOrderHistory> } => {
      const i = orders.length;
      const order = {
        orderId: `${tag}-${i}`,
        history: sampleOrderHistory({
          orderId: `${tag}-${i}`,
          customerId: `cust-${tag}-${i % 6}`,
          currency,
          skus,
          scenario: pickScenario(random),
          startsAt: new Date(Date.UTC(2023, 5, 1) + Math.floor(random() * 20) * 86_400_000),
          random,
        }),
      };
      orders.push(order);
      return order;
    };
    const indexesBefore = await indexNames(db, live);

    const listener = await listenForAppends(connect('jest-projections-rebuild'));
    const subscriptions: Subscription[] = [];
    let rebuilding = true;
    let appended = 0;
    try {
      for (const schema of [live, reference]) {
        const runner = new ProjectionRunner({ db, store, schema });
        for (const name of PROJECTION_NAMES) {
          subscriptions.push(await startSubscriptionProjector(name, { db, store, runner, listener, schema, batchSize: 20 }));
        }
      }

      // Eight writers keep three orders each under way, starting new ones for as long as the rebuilds
      // run, then finish the ones they have started.
      const versions = new Map<string, number>();
      const writers = Promise.all(
        Array.from({ length: 8 }, async () => {
          const mine: typeof orders = [];
          for (;;) {
            const unfinished = mine.filter((o) => (versions.get(o.orderId) ?? 0) < o.history.length);
            // (At most 2,000 orders, so that a rebuild slower than the writers fails rather than chases them forever.)
            if (rebuilding && unfinished.length < 3 && orders.length < 2000) {
              const order = newOrder();
              mine.push(order);
              unfinished.push(order);
            }
            if (unfinished.length === 0) return;
            const { orderId, history } = unfinished[Math.floor(random() * unfinished.length)]!;
            const from = versions.get(orderId) ?? 0;
            const n = Math.min(history.length - from, 1 + Math.floor(random() * 2));
            versions.set(orderId, await appendOrderEvents(store, orderId, history.slice(from, from + n), from));
            appended += n;
            await sleep(rebuilding ? 10 : 0);
          }
        }),
      );

      await sleep(300);
      const appendedBefore = appended;
      // Small batches; tiny flush and cache limits, so that flushes happen during the catch-up and states
      // the cache dropped are read back from the new tables; two projections rebuilt in one pass.
      let appendedAtSwap = 0;
      const results = await Promise.all([
        rebuildProjection({ db, store }, 'order_view', { schema: live, batchSize: 50, flushEvents: 200, maxCachedOrders: 5 }),
        rebuildProjection({ db, store }, 'daily_sales', { schema: live, batchSize: 50 }),
        rebuildProjections({ db, store }, ['customer_orders', 'product_metrics'], {
          schema: live,
          batchSize: 50,
          flushEvents: 100,
          flushOrders: 7,
          maxCachedOrders: 3,
        }),
      ]).finally(() => {
        appendedAtSwap = appended;
        rebuilding = false;
      });
      await writers;
      // The rebuilds started with events to read and swapped while orders were still being written.
      expect(appendedBefore).toBeGreaterThan(0);
      expect(appended).toBeGreaterThan(appendedAtSwap);
      for (const result of results) expect(result.events).toBeGreaterThan(0);

      // Wait until both schemas have applied every event of the test's orders.
      const ids = orders.map((o) => o.orderId);
      const finalVersion = new Map(orders.map((o) => [o.orderId, o.history.length]));
      const caughtUp = async (table: string): Promise<boolean> => {
        const rows = (await db.raw<{ rows: { order_id: string; last_version: string }[] }>(
          `SELECT order_id, last_version FROM ${table} WHERE order_id = ANY (?)`,
          [ids],
        )).rows;
        return rows.length === ids.length && rows.every((r) => Number(r.last_version) === finalVersion.get(r.order_id));
      };
      const versionTables = ['order_view', 'customer_orders_applied', 'daily_sales_applied', 'product_metrics_applied'];
      const deadline = Date.now() + 30_000;
      for (;;) {
        const states = await Promise.all([live, reference].flatMap((schema) => versionTables.map((t) => caughtUp(`${schema}.${t}`))));
        if (states.every(Boolean)) break;
        if (Date.now() > deadline) throw new Error('the projections did not catch up');
        await sleep(100);
      }
    } finally {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await listener.end();
    }

    const ids = orders.map((o) => o.orderId);
    const customers = [...new Set(orders.map((_, i) => `cust-${tag}-${i % 6}`))];
    const filters: [string, string, Knex.RawBinding[]][] = [
      ['order_view', 'order_id = ANY (?)', [ids]],
      ['customer_orders', 'customer_id = ANY (?)', [customers]],
      ['daily_sales', 'currency = ?', [currency]],
      ['product_metrics', 'sku = ANY (?)', [skus]],
      ['customer_orders_applied', 'order_id = ANY (?)', [ids]],
      ['daily_sales_applied', 'order_id = ANY (?)', [ids]],
      ['product_metrics_applied', 'order_id = ANY (?)', [ids]],
    ];
    for (const [table, where, bindings] of filters) {
      const rebuilt = await rowsOf(db, `${live}.${table}`, where, bindings);
      expect(rebuilt.length).toBeGreaterThan(0);
      expect(rebuilt).toEqual(await rowsOf(db, `${reference}.${table}`, where, bindings));
    }

    // Every order is there, as the domain sees it.
    for (const { orderId } of orders) {
      const stored = await store.readStream(orderStreamId(orderId));
      const expected = orderViewRow(orderId, orderStateFrom(stored.map(toOrderEvent)), stored.at(-1)!.recordedAt);
      const row = await db.withSchema(live).from('order_view').where({ order_id: orderId }).first<{ status: string; last_version: string }>();
      expect({ status: row.status, version: Number(row.last_version) }).toEqual({ status: expected.status, version: expected.last_version });
    }

    // The swapped-in tables carry the old names, indexes included, and nothing of the rebuild is left.
    expect(await indexNames(db, live)).toEqual(indexesBefore);
    const { rows: leftovers } = await db.raw<{ rows: unknown[] }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = ? AND (tablename LIKE '%\\_\\_rebuild\\_%' OR tablename LIKE '%\\_\\_old\\_%')",
      [live],
    );
    expect(leftovers).toEqual([]);
  });

  it('brings along, at the swap, events a live batch applied from beyond the gap-free log', async () => {
    const tag = randomUUID().slice(0, 8);
    const random = seededRandom(29);
    const history = (orderId: string) =>
      sampleOrderHistory({ orderId, customerId: `cust-${tag}`, currency: 'QRB', skus: [`SKU-${tag}`], scenario: 'delivered', startsAt: new Date('2023-07-01T00:00:00.000Z'), random });
    const [held, late] = [`${tag}-held`, `${tag}-late`];
    // An older transaction stays open with an append, so the gap-free log stops before it ...
    const open = await db.transaction();
    try {
      const openStore = new PostgresEventStore(open as unknown as Knex, store.registry, { notifyAppends: false });
      await appendOrderEvents(openStore, held, history(held).slice(0, 1), 0);
      // ... while a newer order commits, and a live batch (say, a broker delivery) applies it.
      const lateHistory = history(late);
      await appendOrderEvents(store, late, lateHistory, 0);
      const runner = new ProjectionRunner({ db, store, schema: live });
      await runner.applyEvents('order_view', await store.readStream(orderStreamId(late)));
      const before = await rowsOf(db, `${live}.order_view`, 'order_id = ?', [late]);
      expect(before).toHaveLength(1);

      await rebuildProjection({ db, store }, 'order_view', { schema: live });
      expect(await rowsOf(db, `${live}.order_view`, 'order_id = ?', [late])).toEqual(before);
    } finally {
      await open.rollback();
    }
  });

  it('swaps only when no live batch is in flight, waiting and trying again', async () => {
    const batch = await db.transaction();
    const released = sleep(700).then(() => batch.commit());
    try {
      await holdSwapLockShared(batch, live, 'daily_sales');
      const started = Date.now();
      await rebuildProjection({ db, store }, 'daily_sales', { schema: live, lockTimeoutMs: 200, swapAttempts: 10 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    } finally {
      await released;
    }
  });

  it('runs one rebuild of a projection at a time', async () => {
    const other = connect('jest-projections-rebuild-lock');
    await other.connect();
    try {
      expect(await tryRebuildLock(other, live, 'order_view')).toBe(true);
      await expect(rebuildProjection({ db, store }, 'order_view', { schema: live })).rejects.toBeInstanceOf(RebuildInProgressError);
      await releaseRebuildLock(other, live, 'order_view');
    } finally {
      await other.end();
    }
    await expect(rebuildProjection({ db, store }, 'order_view', { schema: live })).resolves.toMatchObject({ projections: ['order_view'] });
  });
});
