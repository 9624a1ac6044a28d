/**
 * What must hold after a chaos run, read from the system's own stores: the event log is the truth,
 * the services' tables hold the money and the stock, the read models must equal a fresh rebuild.
 */
import type { Knex } from 'knex';
import { findLine, orderStateFrom, orderStreamId, toOrderEvent, type OrderState } from '../../../domain';
import type { PostgresEventStore } from '../../../eventstore';
import { createLogger } from '../../../infra';
import { PROJECTION_NAMES, PROJECTIONS, createReadModelSchema, dropReadModelSchema, rebuildProjections } from '../../../projections';

/** Each order's state folded from its stream in the event store. */
export async function orderStatesFromLog(store: PostgresEventStore, orderIds: readonly string[]): Promise<Map<string, OrderState>> {
  const states = new Map<string, OrderState>();
  for (const orderId of orderIds) {
    const events = await store.readStream(orderStreamId(orderId));
    states.set(orderId, orderStateFrom(events.map(toOrderEvent)));
  }
  return states;
}

export interface MoneyBalance {
  capturedMinor: number;
  refundedMinor: number;
  deliveredRevenueMinor: number;
  /** Orders charged more than once (must be none). */
  chargedTwice: string[];
}

/** Captured minus refunded payments against the revenue of the orders that went through. */
export async function moneyBalance(db: Knex, states: ReadonlyMap<string, OrderState>): Promise<MoneyBalance> {
  const rows = await db('payments')
    .whereIn('order_id', [...states.keys()])
    .select<{ order_id: string; status: string; amount_minor: string }[]>('order_id', 'status', 'amount_minor');
  let capturedMinor = 0;
  let refundedMinor = 0;
  const charges = new Map<string, number>();
  for (const row of rows) {
    capturedMinor += Number(row.amount_minor);
    if (row.status === 'refunded') refundedMinor += Number(row.amount_minor);
    charges.set(row.order_id, (charges.get(row.order_id) ?? 0) + 1);
  }
  let deliveredRevenueMinor = 0;
  for (const state of states.values()) if (state.status === 'delivered') deliveredRevenueMinor += state.total?.amountMinor ?? 0;
  return { capturedMinor, refundedMinor, deliveredRevenueMinor, chargedTwice: [...charges].filter(([, n]) => n > 1).map(([id]) => id) };
}

export interface StockBalance {
  sku: string;
  initial: number;
  available: number;
  reserved: number;
  sold: number;
  /** Units of the SKU in delivered orders, from the event log. */
  soldPerLog: number;
}

export async function stockBalances(db: Knex, skus: readonly string[], initial: number, states: ReadonlyMap<string, OrderState>): Promise<StockBalance[]> {
  const rows = await db('products')
    .whereIn('sku', skus)
    .select<{ sku: string; stock_available: number; stock_reserved: number; stock_sold: number }[]>('sku', 'stock_available', 'stock_reserved', 'stock_sold');
  return rows
    .map((row) => ({
      sku: row.sku,
      initial,
      available: row.stock_available,
      reserved: row.stock_reserved,
      sold: row.stock_sold,
      soldPerLog: [...states.values()]
        .filter((s) => s.status === 'delivered')
        .reduce((sum, s) => sum + (findLine(s.items, row.sku)?.quantity ?? 0), 0),
    }))
    .sort((a, b) => a.sku.localeCompare(b.sku));
}

const REFERENCE_SCHEMA = 'chaos_reference';

async function tableRows(db: Knex, schema: string, table: string): Promise<unknown[]> {
  // Every column in a fixed order, so rows of the two schemas compare as plain values.
  const { rows } = await db.raw<{ rows: unknown[] }>(`SELECT * FROM "${schema}"."${table}" ORDER BY 1, 2`);
  return rows;
}

/**
 * Rebuilds every projection from the event log into a schema of its own and returns, per table,
 * the live rows and the rebuilt ones.
 */
export async function liveAndRebuiltReadModels(db: Knex, store: PostgresEventStore): Promise<Record<string, { live: unknown[]; rebuilt: unknown[] }>> {
  await dropReadModelSchema(db, REFERENCE_SCHEMA);
  await createReadModelSchema(db, REFERENCE_SCHEMA);
  try {
    const logger = createLogger('chaos-rebuild');
    logger.level = 'warn';
    await rebuildProjections({ db, store, logger }, PROJECTION_NAMES, { schema: REFERENCE_SCHEMA });
    const tables = PROJECTION_NAMES.flatMap((name) => PROJECTIONS[name].tables);
    const result: Record<string, { live: unknown[]; rebuilt: unknown[] }> = {};
    for (const table of tables) result[table] = { live: await tableRows(db, 'public', table), rebuilt: await tableRows(db, REFERENCE_SCHEMA, table) };
    return result;
  } finally {
    await dropReadModelSchema(db, REFERENCE_SCHEMA);
  }
}

export interface ConsumerCoverage {
  consumer: string;
  events: number;
  processed: number;
  /** Committed events the consumer never took. */
  missing: number;
  /** Ids it recorded that are no committed event (must be none). */
  unknown: number;
}

/**
 * Whether a consumer took every committed event exactly once: its deduplication claims
 * (processed_messages, one row per event at most) against the event log.
 */
export async function consumerCoverage(db: Knex, consumer: string): Promise<ConsumerCoverage> {
  const { rows } = await db.raw<{ rows: { events: string; processed: string; missing: string; unknown: string }[] }>(
    `SELECT (SELECT count(*) FROM events) AS events,
            (SELECT count(*) FROM processed_messages WHERE consumer_name = :consumer) AS processed,
            (SELECT count(*) FROM events e WHERE NOT EXISTS
               (SELECT 1 FROM processed_messages p WHERE p.consumer_name = :consumer AND p.event_id = e.event_id)) AS missing,
            (SELECT count(*) FROM processed_messages p WHERE p.consumer_name = :consumer AND NOT EXISTS
               (SELECT 1 FROM events e WHERE e.event_id = p.event_id)) AS unknown`,
    { consumer },
  );
  const row = rows[0]!;
  return { consumer, events: Number(row.events), processed: Number(row.processed), missing: Number(row.missing), unknown: Number(row.unknown) };
}
