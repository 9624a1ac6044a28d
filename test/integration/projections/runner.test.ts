import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import {
  ORDER_EVENT_DEFINITIONS,
  initialOrderState,
  orderStateFrom,
  orderStreamId,
  toOrderEvent,
  type OrderEvent,
} from '../../../domain';
import {
  EventRegistry,
  PostgresEventStore,
  START_OF_LOG,
  listenForAppends,
  saveCheckpoint,
  type StoredEvent,
  type Subscription,
} from '../../../eventstore';
import { createPgClient } from '../../../infra/postgres';
import {
  PROJECTION_NAMES,
  ProjectionRunner,
  READ_MODEL_TABLES,
  createReadModelSchema,
  dropReadModelSchema,
  startSubscriptionProjector,
} from '../../../projections';
import { mergeDeltas } from '../../../projections/engine/aggregate-shape';
import { CUSTOMER_ORDERS_SHAPE, customerOrdersChanges } from '../../../projections/read-models/customer-orders';
import { DAILY_SALES_SHAPE, dailySalesChanges } from '../../../projections/read-models/daily-sales';
import { foldOrder } from '../../../projections/engine/fold';
import { orderViewRow } from '../../../projections/read-models/order-view';
import { PRODUCT_METRICS_SHAPE, productMetricsChanges } from '../../../projections/read-models/product-metrics';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../../support/sample-orders';
import type { ProjectionStep } from '../../../projections/engine/types';
import { openTestDatabase } from '../../support/postgres';

/** Rows of a table as JSON, in a stable order, for comparing tables row for row. */
async function rowsOf(db: Knex, table: string, where = 'true', bindings: Knex.RawBinding[] = []): Promise<unknown[]> {
  const { rows } = await db.raw<{ rows: { row: Record<string, unknown> }[] }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE ${where}`, bindings);
  return rows.map((r) => r.row).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

/** The steps of an order's stored events, to compute expected rows with the pure projections. */
function stepsOf(orderId: string, events: readonly StoredEvent[]): ProjectionStep[] {
  const steps: ProjectionStep[] = [];
  foldOrder(orderId, initialOrderState, events, toOrderEvent, (step) => steps.push(step));
  return steps;
}

const shuffle = <T>(items: readonly T[], random: () => number): T[] => {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe('projection runner (real Postgres)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  const schemas: string[] = [];

  beforeAll(async () => {
    db = await openTestDatabase();
    store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS));
  });
  afterAll(async () => {
    for (const schema of schemas) await dropReadModelSchema(db, schema);
    await db('subscription_checkpoints').whereIn('subscription_id', schemas.flatMap((s) => PROJECTION_NAMES.map((n) => `projection:${s}.${n}`))).delete();
    await db?.destroy();
  });

  async function newSchema(): Promise<string> {
    const schema = `proj_test_${randomUUID().slice(0, 8)}`;
    schemas.push(schema);
    await createReadModelSchema(db, schema);
    return schema;
  }

  /** Orders of this test only: its own ids, customers, SKUs and currency. */
  function world(size: number, seed: number) {
    const tag = randomUUID().slice(0, 8);
    const random = seededRandom(seed);
    const currency = `Q${String.fromCharCode(65 + Math.floor(random() * 26))}${String.fromCharCode(65 + Math.floor(random() * 26))}`;
    const skus = [0, 1, 2, 3].map((k) => `SKU-${tag}-${k}`);
    const orders = Array.from({ length: size }, (_, i) => {
      const orderId = `${tag}-${i}`;
      const history = sampleOrderHistory({
        orderId,
        customerId: `cust-${tag}-${i % 4}`,
        currency,
        skus,
        scenario: pickScenario(random),
        startsAt: new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 30) * 86_400_000),
        random,
      });
      return { orderId, history };
    });
    return { tag, currency, skus, orders, random };
  }

  /** Appends every order's events interleaved across orders, 1 to 3 at a time; returns them in log order. */
  async function appendInterleaved(orders: { orderId: string; history: OrderEvent[] }[], random: () => number): Promise<StoredEvent[]> {
    const versions = new Map(orders.map((o) => [o.orderId, 0]));
    let open = orders.filter((o) => o.history.length > 0);
    while (open.length > 0) {
      await Promise.all(
        open.map(async ({ orderId, history }) => {
          const from = versions.get(orderId)!;
          const n = Math.min(history.length - from, 1 + Math.floor(random() * 3));
          versions.set(orderId, await appendOrderEvents(store, orderId, history.slice(from, from + n), from));
        }),
      );
      open = open.filter((o) => versions.get(o.orderId)! < o.history.length);
    }
    const events = (await Promise.all(orders.map((o) => store.readStream(orderStreamId(o.orderId))))).flat();
    return events.sort((a, b) => (a.transactionId === b.transactionId ? Number(a.globalPosition - b.globalPosition) : a.transactionId < b.transactionId ? -1 : 1));
  }

  it('gives the same read models for out-of-order, duplicated and concurrent deliveries as for in-order ones', async () => {
    const w = world(30, 7);
    const events = await appendInterleaved(w.orders, w.random);
    const [inOrder, scrambled] = [await newSchema(), await newSchema()];

    const inOrderRunner = new ProjectionRunner({ db, store, schema: inOrder });
    for (const name of PROJECTION_NAMES) {
      for (let i = 0; i < events.length; i += 7) await inOrderRunner.applyEvents(name, events.slice(i, i + 7));
    }

    // Every event once or twice, shuffled, in batches of 1 to 15, four consumers per projection at once.
    const scrambledRunner = new ProjectionRunner({ db, store, schema: scrambled });
    const totals = { duplicates: 0, fetched: 0 };
    await Promise.all(
      PROJECTION_NAMES.map(async (name) => {
        const deliveries = shuffle([...events, ...events.filter(() => w.random() < 0.3)], w.random);
        const batches: StoredEvent[][] = [];
        for (let i = 0; i < deliveries.length; ) {
          const size = 1 + Math.floor(w.random() * 15);
          batches.push(deliveries.slice(i, i + size));
          i += size;
        }
        await Promise.all(
          [0, 1, 2, 3].map(async () => {
            for (let batch = batches.shift(); batch; batch = batches.shift()) {
              const result = await scrambledRunner.applyEvents(name, batch);
              totals.duplicates += result.duplicates;
              totals.fetched += result.fetched;
            }
          }),
        );
      }),
    );
    expect(totals.duplicates).toBeGreaterThan(0);
    expect(totals.fetched).toBeGreaterThan(0);

    for (const table of READ_MODEL_TABLES.filter((t) => t !== 'projection_checkpoints')) {
      expect(await rowsOf(db, `${scrambled}.${table}`)).toEqual(await rowsOf(db, `${inOrder}.${table}`));
    }

    // And the rows are the right ones: what the pure projections make of the stored events.
    const byOrder = new Map(w.orders.map((o) => [o.orderId, events.filter((e) => e.streamId === orderStreamId(o.orderId))]));
    const steps = [...byOrder].flatMap(([orderId, stored]) => stepsOf(orderId, stored));
    const expectedViews = [...byOrder].map(([orderId, stored]) =>
      orderViewRow(orderId, orderStateFrom(stored.map(toOrderEvent)), stored.at(-1)!.recordedAt),
    );
    const views = (await db.withSchema(inOrder).from('order_view').select('order_id', 'status', 'last_version', 'total_minor', 'items')) as {
      order_id: string;
      status: string;
      last_version: string;
      total_minor: string | null;
      items: unknown;
    }[];
    expect(views.map((v) => ({ ...v, last_version: Number(v.last_version), total_minor: v.total_minor === null ? null : Number(v.total_minor) })).sort((a, b) => (a.order_id < b.order_id ? -1 : 1))).toEqual(
      expectedViews
        .map((v) => ({ order_id: v.order_id, status: v.status, last_version: v.last_version, total_minor: v.total_minor, items: v.items }))
        .sort((a, b) => (a.order_id < b.order_id ? -1 : 1)),
    );
    const numbers = (rows: Record<string, unknown>[]): Record<string, unknown>[] =>
      rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v])));
    const sales = await db.raw<{ rows: Record<string, unknown>[] }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, currency, orders_placed, orders_confirmed, orders_cancelled, revenue_minor, refunds_minor
         FROM ${inOrder}.daily_sales ORDER BY day, currency`,
    );
    expect(numbers(sales.rows)).toEqual(mergeDeltas(DAILY_SALES_SHAPE, steps.flatMap(dailySalesChanges)));
    const products = await db.raw<{ rows: Record<string, unknown>[] }>(`SELECT * FROM ${inOrder}.product_metrics ORDER BY sku, currency`);
    expect(numbers(products.rows)).toEqual(mergeDeltas(PRODUCT_METRICS_SHAPE, steps.flatMap(productMetricsChanges)));
    const customers = await db.raw<{ rows: Record<string, unknown>[] }>(
      `SELECT *, to_char(last_order_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_order_at FROM ${inOrder}.customer_orders ORDER BY customer_id`,
    );
    expect(numbers(customers.rows)).toEqual(mergeDeltas(CUSTOMER_ORDERS_SHAPE, steps.flatMap(customerOrdersChanges)));
  });

  it('reads the events a delivery skipped from the event store (event 5 after 3 fetches 4)', async () => {
    const w = world(1, 11);
    const { orderId } = w.orders[0]!;
    const history = sampleOrderHistory({
      orderId,
      customerId: `cust-${w.tag}`,
      currency: w.currency,
      skus: w.skus,
      scenario: 'delivered',
      startsAt: new Date('2024-02-01T10:00:00.000Z'),
      random: w.random,
    });
    await appendOrderEvents(store, orderId, history, 0);
    const stored = await store.readStream(orderStreamId(orderId));
    expect(stored.length).toBeGreaterThanOrEqual(7);
    const runner = new ProjectionRunner({ db, store });
    const readStream = jest.spyOn(store, 'readStream');
    try {
      for (const name of ['order_view', 'daily_sales'] as const) {
        await runner.applyEvents(name, stored.slice(0, 3));
        readStream.mockClear();
        const result = await runner.applyEvents(name, [stored[4]!]);
        expect(result).toMatchObject({ orders: 1, applied: 2, fetched: 2, duplicates: 0 });
        expect(readStream).toHaveBeenCalledWith(orderStreamId(orderId), { fromVersion: 4, limit: 2 });
        expect(await runner.applyEvents(name, [stored[3]!, stored[2]!])).toMatchObject({ applied: 0, duplicates: 2 });
      }
    } finally {
      readStream.mockRestore();
    }
    const row = await db('order_view').where({ order_id: orderId }).first<{ last_version: string; status: string }>();
    expect(Number(row.last_version)).toBe(5);
    expect(row.status).toBe(orderStateFrom(stored.slice(0, 5).map(toOrderEvent)).status);
    const applied = await db('daily_sales_applied').where({ order_id: orderId }).first<{ last_version: string }>();
    expect(Number(applied.last_version)).toBe(5);
  });

  it('rebuilds from the event store the state of an order it does not keep, and ends with the same rows', async () => {
    const w = world(1, 19);
    const { orderId } = w.orders[0]!;
    const history = sampleOrderHistory({
      orderId,
      customerId: `cust-${w.tag}`,
      currency: w.currency,
      skus: w.skus,
      scenario: 'cancelled_after_payment',
      startsAt: new Date('2024-03-01T10:00:00.000Z'),
      random: w.random,
    });
    await appendOrderEvents(store, orderId, history, 0);
    const stored = await store.readStream(orderStreamId(orderId));
    const [forgetful, reference] = [await newSchema(), await newSchema()];
    for (const schema of [forgetful, reference]) await new ProjectionRunner({ db, store, schema }).applyEvents('daily_sales', stored.slice(0, -2));
    // As if the state had never been kept (a finished order's is not): only the version is left.
    await db.withSchema(forgetful).table('daily_sales_applied').where({ order_id: orderId }).update({ state: null });
    for (const schema of [forgetful, reference]) await new ProjectionRunner({ db, store, schema }).applyEvents('daily_sales', stored.slice(-2));
    expect(await rowsOf(db, `${forgetful}.daily_sales`)).toEqual(await rowsOf(db, `${reference}.daily_sales`));
    expect(await rowsOf(db, `${forgetful}.daily_sales_applied`)).toEqual(await rowsOf(db, `${reference}.daily_sales_applied`));
    // The order is finished now: its state is not kept, its version is.
    expect(await db.withSchema(reference).from('daily_sales_applied').where({ order_id: orderId }).first()).toMatchObject({
      last_version: String(stored.length),
      state: null,
    });
  });

  it('leaves nothing behind when a batch dies mid-transaction, and the re-run gives the same rows', async () => {
    const w = world(3, 13);
    const events = await appendInterleaved(w.orders, w.random);
    const ids = w.orders.map((o) => o.orderId);
    const snapshot = async (): Promise<unknown[]> => [
      await rowsOf(db, 'order_view', 'order_id = ANY (?)', [ids]),
      await rowsOf(db, 'customer_orders_applied', 'order_id = ANY (?)', [ids]),
      await rowsOf(db, 'customer_orders', 'customer_id LIKE ?', [`cust-${w.tag}-%`]),
      await rowsOf(db, 'product_metrics', 'sku = ANY (?)', [w.skus]),
      await rowsOf(db, 'product_metrics_applied', 'order_id = ANY (?)', [ids]),
    ];
    const runner = new ProjectionRunner({ db, store });
    const half = Math.floor(events.length / 2);
    for (const name of ['order_view', 'customer_orders', 'product_metrics'] as const) await runner.applyEvents(name, events.slice(0, half));
    const before = await snapshot();

    // The connection is killed after the rows are written, before the commit; then a plain failure.
    const kill = (trx: Knex.Transaction): Promise<void> => trx.raw('SELECT pg_terminate_backend(pg_backend_pid())').then(() => undefined);
    const fail = (): Promise<void> => Promise.reject(new Error('crashed before commit'));
    for (const name of ['order_view', 'customer_orders', 'product_metrics'] as const) {
      await expect(runner.applyEvents(name, events.slice(half), { inTransaction: kill })).rejects.toThrow();
      await expect(runner.applyEvents(name, events, { inTransaction: fail })).rejects.toThrow('crashed before commit');
    }
    expect(await snapshot()).toEqual(before);

    for (const name of ['order_view', 'customer_orders', 'product_metrics'] as const) await runner.applyEvents(name, events);
    const after = await snapshot();
    // The same rows as one clean pass in a schema of their own.
    const clean = await newSchema();
    const cleanRunner = new ProjectionRunner({ db, store, schema: clean });
    for (const name of ['order_view', 'customer_orders', 'product_metrics'] as const) await cleanRunner.applyEvents(name, events);
    expect(after).toEqual([
      await rowsOf(db, `${clean}.order_view`),
      await rowsOf(db, `${clean}.customer_orders_applied`),
      await rowsOf(db, `${clean}.customer_orders`),
      await rowsOf(db, `${clean}.product_metrics`),
      await rowsOf(db, `${clean}.product_metrics_applied`),
    ]);
  });

  it('keeps the read models up to date from an event store subscription', async () => {
    const schema = await newSchema();
    const runner = new ProjectionRunner({ db, store, schema });
    const listener = await listenForAppends(createPgClient('jest-projections'));
    const subscriptions: Subscription[] = [];
    try {
      // The shared log is long and not this test's: its projectors start at the current head.
      const { rows } = await db.raw<{ rows: { txid: string; position: string }[] }>(
        `SELECT transaction_id::text AS txid, global_position AS position FROM events
          WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
      );
      const head = rows[0] ? { transactionId: BigInt(rows[0].txid), globalPosition: BigInt(rows[0].position) } : START_OF_LOG;
      for (const name of PROJECTION_NAMES) {
        await saveCheckpoint(db, `projection:${schema}.${name}`, head);
        subscriptions.push(await startSubscriptionProjector(name, { db, store, runner, listener, schema }));
      }
      const w = world(3, 17);
      const events = await appendInterleaved(w.orders, w.random);
      const ids = w.orders.map((o) => o.orderId);
      const finalVersions = Object.fromEntries(w.orders.map((o) => [o.orderId, o.history.length]));
      const deadline = Date.now() + 20_000;
      for (;;) {
        const rows = (await db.withSchema(schema).from('product_metrics_applied').whereIn('order_id', ids).select('order_id', 'last_version')) as {
          order_id: string;
          last_version: string;
        }[];
        const views = (await db.withSchema(schema).from('order_view').whereIn('order_id', ids).select('order_id', 'last_version')) as typeof rows;
        const done = (list: typeof rows): boolean => list.length === ids.length && list.every((r) => Number(r.last_version) === finalVersions[r.order_id]);
        if (done(rows) && done(views)) break;
        if (Date.now() > deadline) throw new Error('the subscription did not catch up');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(events.length).toBe(Object.values(finalVersions).reduce((a, b) => a + b, 0));
    } finally {
      await Promise.all(subscriptions.map((s) => s.stop()));
      await listener.end();
    }
  });
});
