/**
 * npm run bench:projections: the projections against raw SQL on the same server, in one run, in a fresh
 * database holding BENCH_EVENTS (200,000) events of realistic order streams.
 *  (a) a full rebuild (npm run projections:rebuild -- all: the four projections in one pass over the log)
 *      vs a raw floor: the same events read once with a keyset SELECT, the same rows written with one
 *      multi-row upsert per read-model table per batch (precomputed, so the floor is pure I/O), reading
 *      ahead while writing as the rebuild does; then each projection rebuilt alone vs its own floor;
 *  (b) the live lag under a steady load: from an append's commit to the incremental runner (fed by an
 *      event store subscription per projection) having committed it, p50/p99 over every event and
 *      projection.
 */
import type { Knex } from 'knex';
import { Client as PgClient } from 'pg';
import { config } from '../config';
import { ORDER_EVENT_DEFINITIONS, initialOrderState, orderStreamId, toOrderEvent, type OrderEvent, type OrderState } from '../domain';
import { EventRegistry, PostgresEventStore, deterministicEventId, listenForAppends, type StoredEvent, type Subscription } from '../eventstore';
import { createLogger } from '../infra/logger';
import {
  PROJECTION_NAMES,
  ProjectionRunner,
  projectionLag,
  rebuildProjection,
  rebuildProjections,
  startSubscriptionProjector,
  type ProjectionName,
} from '../projections';
import { mergeDeltas, type AggregateRow, type AggregateShape } from '../projections/engine/aggregate-shape';
import { CUSTOMER_ORDERS_SHAPE, customerOrdersChanges } from '../projections/read-models/customer-orders';
import { DAILY_SALES_SHAPE, dailySalesChanges } from '../projections/read-models/daily-sales';
import { eventsByOrder, foldOrder } from '../projections/engine/fold';
import { orderViewRow } from '../projections/read-models/order-view';
import { PRODUCT_METRICS_SHAPE, productMetricsChanges } from '../projections/read-models/product-metrics';
import { upsertSql, type UpsertSpec } from '../projections/engine/sql';
import { aggregateUpsert } from '../projections/engine/storage/aggregate-store';
import { ORDER_VIEW_UPSERT } from '../projections/engine/storage/order-view-store';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../test/support/sample-orders';
import type { ProjectionStep } from '../projections/engine/types';
import { freshBenchDatabase, percentile, round, throughput } from './support';

const DATABASE = 'orders_bench_projections';
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 5000;
const WRITERS = 16;
const LAG_RATE = Number(process.env.BENCH_LAG_EVENTS_PER_S ?? 1000);
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 15);
const LAG_WARMUP_SECONDS = 2;

const random = seededRandom(42);
const CUSTOMERS = 5000;
const SKUS = Array.from({ length: 200 }, (_, i) => `SKU-${String(i).padStart(4, '0')}`);
let ordersMade = 0;

function nextOrder(startsAt: Date): { orderId: string; history: OrderEvent[] } {
  const n = ordersMade++;
  const orderId = `bench-${n}`;
  const history = sampleOrderHistory({
    orderId,
    customerId: `customer-${Math.floor(random() * CUSTOMERS)}`,
    currency: random() < 0.9 ? 'USD' : 'EUR',
    skus: SKUS,
    scenario: pickScenario(random),
    startsAt,
    random,
  });
  return { orderId, history };
}

/** Orders appended in three waves (each order's first third, then second, then last), 16 writers. */
async function loadOrders(store: PostgresEventStore): Promise<{ events: number; orders: number; seconds: number }> {
  const orders: { orderId: string; history: OrderEvent[] }[] = [];
  let events = 0;
  const now = Date.now();
  while (events < EVENTS) {
    const order = nextOrder(new Date(now - Math.floor(random() * 60 * 86_400_000)));
    orders.push(order);
    events += order.history.length;
  }
  const started = process.hrtime.bigint();
  for (let wave = 0; wave < 3; wave++) {
    const slice = (history: OrderEvent[]): [number, number] => {
      const third = Math.ceil(history.length / 3);
      return [wave * third, Math.min(history.length, (wave + 1) * third)];
    };
    await throughput(orders.length, WRITERS, async (i) => {
      const { orderId, history } = orders[i]!;
      const [from, to] = slice(history);
      if (to > from) await appendOrderEvents(store, orderId, history.slice(from, to), from);
    });
  }
  return { events, orders: orders.length, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/* ---------- (a) rebuild vs raw floor ---------- */

interface FloorTarget {
  table: string;
  spec: UpsertSpec;
  /** The rows a batch writes, from its orders' steps and final states. */
  rows(steps: ProjectionStep[], orders: { orderId: string; state: OrderState; recordedAt: Date }[]): object[];
}

function aggregateFloor<Row extends AggregateRow>(shape: AggregateShape<Row>, changes: (step: ProjectionStep) => Row[]): FloorTarget {
  return { table: shape.table, spec: aggregateUpsert(shape), rows: (steps) => mergeDeltas(shape, steps.flatMap(changes)) };
}

const FLOOR: Record<ProjectionName, FloorTarget> = {
  order_view: {
    table: 'order_view',
    spec: ORDER_VIEW_UPSERT,
    rows: (_, orders) => orders.map((o) => orderViewRow(o.orderId, o.state, o.recordedAt)).sort((a, b) => (a.order_id < b.order_id ? -1 : 1)),
  },
  customer_orders: aggregateFloor(CUSTOMER_ORDERS_SHAPE, customerOrdersChanges),
  daily_sales: aggregateFloor(DAILY_SALES_SHAPE, dailySalesChanges),
  product_metrics: aggregateFloor(PRODUCT_METRICS_SHAPE, productMetricsChanges),
};

interface RawEventRow {
  global_position: string;
  stream_id: string;
  stream_version: string;
  event_type: string;
  data: unknown;
  recorded_at: Date;
}

const RAW_PAGE_SQL = `SELECT global_position, transaction_id, stream_id, stream_type, stream_version, event_id, event_type,
                             schema_version, data, metadata, recorded_at
                        FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?`;

const readRawPage = async (db: Knex, after: string): Promise<RawEventRow[]> =>
  (await db.raw<{ rows: RawEventRow[] }>(RAW_PAGE_SQL, [after, BATCH])).rows;

/** Untimed: for every batch, the JSON payload of each target's upsert, computed with the projections' pure code. */
async function floorPayloads(db: Knex, targets: readonly FloorTarget[]): Promise<string[][]> {
  const payloads: string[][] = [];
  const states = new Map<string, OrderState>();
  let after = '0';
  for (;;) {
    const page = await readRawPage(db, after);
    if (page.length === 0) return payloads;
    after = page[page.length - 1]!.global_position;
    const delivered = page.map((r) => ({ streamId: r.stream_id, streamVersion: Number(r.stream_version), type: r.event_type, data: r.data, recordedAt: r.recorded_at }));
    const steps: ProjectionStep[] = [];
    const orders = [...eventsByOrder(delivered).byOrder].map(([orderId, events]) => {
      const applied = foldOrder(orderId, states.get(orderId) ?? initialOrderState, events, toOrderEvent, (s) => steps.push(s));
      states.set(orderId, applied.state);
      return applied;
    });
    payloads.push(targets.map((target) => JSON.stringify(target.rows(steps, orders))));
  }
}

/** Timed: keyset reads of the events, per batch one upsert per target of the precomputed rows, reading one ahead. */
async function rawFloor(db: Knex, targets: readonly FloorTarget[], payloads: readonly string[][]): Promise<{ events: number; seconds: number }> {
  const statements = targets.map((target) => ({ table: `floor_${target.table}`, sql: upsertSql(target.spec) }));
  for (const target of targets) await db.raw(`DROP TABLE IF EXISTS floor_${target.table}; CREATE TABLE floor_${target.table} (LIKE ${target.table} INCLUDING ALL)`);
  const started = process.hrtime.bigint();
  let events = 0;
  let page = await readRawPage(db, '0');
  for (let i = 0; page.length > 0; i++) {
    const next = readRawPage(db, page[page.length - 1]!.global_position);
    events += page.length;
    for (const [k, { table, sql }] of statements.entries()) await db.raw(sql, [table, payloads[i]![k]!]);
    page = await next;
  }
  return { events, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

/* ---------- (b) live lag ---------- */

async function measureLag(db: Knex, store: PostgresEventStore, databaseUrl: string) {
  const runner = new ProjectionRunner({ db, store, logger: quietLogger() });
  const listener = await listenForAppends(new PgClient({ connectionString: databaseUrl, application_name: 'bench-listener' }));
  // When each measured event's append was acknowledged, and when each projection had committed it.
  const ackAt = new Map<string, number>();
  const appliedAt = new Map<ProjectionName, Map<string, number>>(PROJECTION_NAMES.map((name) => [name, new Map()]));
  const measured = new Set<string>();

  const subscriptions: Subscription[] = [];
  for (const name of PROJECTION_NAMES) {
    const applied = appliedAt.get(name)!;
    const onApplied = (events: readonly StoredEvent[]): void => {
      const now = performance.now();
      for (const event of events) if (measured.has(event.eventId)) applied.set(event.eventId, now);
    };
    subscriptions.push(await startSubscriptionProjector(name, { db, store, runner, listener, batchSize: 500, onApplied, logger: quietLogger() }));
  }

  // A steady load: appends of one or two events of orders under way, paced to LAG_RATE events/s.
  const underWay: { orderId: string; history: OrderEvent[]; version: number; busy: boolean }[] = [];
  const started = performance.now();
  const warmupEnd = started + LAG_WARMUP_SECONDS * 1000;
  const end = warmupEnd + LAG_SECONDS * 1000;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  while (performance.now() < end) {
    const now = performance.now();
    while (sent < ((now - started) / 1000) * LAG_RATE && inFlight.size < 64) {
      let order = underWay.find((o) => !o.busy);
      if (!order || underWay.length < 200) {
        order = { ...nextOrder(new Date()), version: 0, busy: false };
        underWay.push(order);
      }
      const o = order;
      const n = Math.min(o.history.length - o.version, 1 + Math.floor(random() * 2));
      const ids = Array.from({ length: n }, (_, k) => deterministicEventId(orderStreamId(o.orderId), o.version + k + 1));
      if (now >= warmupEnd) for (const id of ids) measured.add(id);
      o.busy = true;
      sent += n;
      const append = appendOrderEvents(store, o.orderId, o.history.slice(o.version, o.version + n), o.version).then((version) => {
        const ack = performance.now();
        for (const id of ids) ackAt.set(id, ack);
        o.version = version;
        o.busy = false;
        if (o.version === o.history.length) underWay.splice(underWay.indexOf(o), 1);
      });
      inFlight.add(append);
      void append.finally(() => inFlight.delete(append));
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(inFlight);
  const loadSeconds = (performance.now() - started) / 1000;
  const allApplied = (): boolean => [...appliedAt.values()].every((applied) => applied.size === measured.size);
  for (const deadline = Date.now() + 60_000; !allApplied() && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(subscriptions.map((s) => s.stop()));
  await listener.end();
  const lags = await Promise.all(PROJECTION_NAMES.map((name) => projectionLag(db, store, name)));

  // From the acknowledged commit; an event applied before its writer saw the acknowledgement counts 0.
  const perProjection = new Map<ProjectionName, number[]>();
  for (const [name, applied] of appliedAt) {
    perProjection.set(
      name,
      [...applied].map(([id, at]) => Math.max(0, at - ackAt.get(id)!)),
    );
  }
  const missing = measured.size * PROJECTION_NAMES.length - [...appliedAt.values()].reduce((n, applied) => n + applied.size, 0);
  return { samples: [...perProjection.values()].flat(), perProjection, events: sent, loadSeconds, lags, missing };
}

function quietLogger() {
  const logger = createLogger('bench-projections');
  logger.level = 'warn';
  return logger;
}

async function main(): Promise<void> {
  const db = await freshBenchDatabase(DATABASE, WRITERS);
  const url = new URL(config().DATABASE_URL);
  url.pathname = `/${DATABASE}`;
  const store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS));

  const loaded = await loadOrders(store);
  console.log(`loaded ${loaded.events} events of ${loaded.orders} orders in ${round(loaded.seconds, 1)} s (${round(loaded.events / loaded.seconds, 0)} events/s)`);
  await db.raw('VACUUM ANALYZE events');

  // Warm the page cache for both sides alike.
  await floorPayloads(db, [FLOOR.daily_sales]);
  const all = PROJECTION_NAMES.map((name) => FLOOR[name]);
  const fullFloor = await rawFloor(db, all, await floorPayloads(db, all));
  const full = await rebuildProjections({ db, store, logger: quietLogger() }, PROJECTION_NAMES, { batchSize: BATCH });
  if (fullFloor.events !== full.events) throw new Error(`the floor read ${fullFloor.events} events, the rebuild ${full.events}`);
  const rebuildRate = full.events / full.seconds;
  const floorRate = fullFloor.events / fullFloor.seconds;
  console.log(
    `full rebuild (4 projections, one pass) ${round(rebuildRate, 0)} events/s   raw floor ${round(floorRate, 0)} events/s   ratio ${round(rebuildRate / floorRate)}`,
  );

  const single: Record<string, number> = {};
  for (const name of PROJECTION_NAMES) {
    const floor = await rawFloor(db, [FLOOR[name]], await floorPayloads(db, [FLOOR[name]]));
    const rebuilt = await rebuildProjection({ db, store, logger: quietLogger() }, name, { batchSize: BATCH });
    const ratio = rebuilt.events / rebuilt.seconds / (floor.events / floor.seconds);
    single[name] = ratio;
    console.log(
      `  ${name.padEnd(16)} alone ${String(round(rebuilt.events / rebuilt.seconds, 0)).padStart(7)} events/s   raw floor ${String(round(floor.events / floor.seconds, 0)).padStart(7)} events/s   ratio ${round(ratio)}`,
    );
  }

  const lag = await measureLag(db, store, url.toString());
  const sorted = [...lag.samples].sort((a, b) => a - b);
  console.log(
    `live lag at ${round(lag.events / lag.loadSeconds, 0)} events/s for ${LAG_SECONDS} s (4 projections, ${sorted.length} samples): ` +
      `p50 ${round(percentile(sorted, 50), 1)} ms  p99 ${round(percentile(sorted, 99), 1)} ms  max ${round(sorted.at(-1) ?? 0, 1)} ms`,
  );
  for (const [name, values] of lag.perProjection) {
    const s = [...values].sort((a, b) => a - b);
    console.log(`  ${name.padEnd(16)} p50 ${round(percentile(s, 50), 1)} ms  p99 ${round(percentile(s, 99), 1)} ms`);
  }
  for (const l of lag.lags) console.log(`  after the load: ${l.projection.padEnd(16)} ${l.events} events behind, ${round(l.seconds, 3)} s`);
  if (lag.missing !== 0) throw new Error(`${lag.missing} measured applications never arrived`);

  const result = {
    events: loaded.events,
    orders: loaded.orders,
    rebuild_events_per_s: round(rebuildRate, 0),
    raw_floor_per_s: round(floorRate, 0),
    rebuild_ratio: round(rebuildRate / floorRate),
    ...Object.fromEntries(PROJECTION_NAMES.map((name) => [`rebuild_alone_${name}_ratio`, round(single[name]!)])),
    lag_p50_ms: round(percentile(sorted, 50), 1),
    lag_p99_ms: round(percentile(sorted, 99), 1),
    lag_load_events_per_s: round(lag.events / lag.loadSeconds, 0),
  };
  await db.destroy();
  console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

