import { ORDER_VIEW_COLUMNS, orderStateFromRow, orderViewRow, type OrderViewRow } from '../../read-models/order-view';
import { excluded, upsertRows, type UpsertSpec } from '../sql';
import { qualified, type TableSet } from '../tables';
import type { AppliedOrder, Db, OrderProgress } from '../types';

export const ORDER_VIEW_TABLE = 'order_view';

// The row is a function of the stream up to last_version, so a write only ever moves it forward: two
// batches of one order racing each other leave the newer version, whichever commits last.
export const ORDER_VIEW_UPSERT: UpsertSpec = {
  columns: ORDER_VIEW_COLUMNS,
  keys: ['order_id'],
  update: excluded,
  where: 't.last_version < excluded.last_version',
};

type Timestamped = 'created_at' | 'submitted_at' | 'confirmed_at' | 'delivered_at' | 'cancelled_at' | 'failed_at';

/** A row as pg returns it: bigint as text, timestamptz as Date. */
type StoredRow = Omit<OrderViewRow, Timestamped | 'updated_at' | 'total_minor' | 'last_version'> &
  Record<Timestamped, Date | null> & { updated_at: Date; total_minor: string | null; last_version: string };

const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());

function fromStored(row: StoredRow): OrderViewRow {
  return {
    ...row,
    total_minor: row.total_minor === null ? null : Number(row.total_minor),
    created_at: iso(row.created_at),
    submitted_at: iso(row.submitted_at),
    confirmed_at: iso(row.confirmed_at),
    delivered_at: iso(row.delivered_at),
    cancelled_at: iso(row.cancelled_at),
    failed_at: iso(row.failed_at),
    updated_at: row.updated_at.toISOString(),
    last_version: Number(row.last_version),
  };
}

const SELECT_LIST = Object.keys(ORDER_VIEW_COLUMNS)
  .map((column) => `"${column}"`)
  .join(', ');

/** The orders' versions and states, as their rows hold them. No lock is needed: writes are version-guarded. */
export async function loadOrderViewProgress(db: Db, tables: TableSet, orderIds: readonly string[]): Promise<Map<string, OrderProgress>> {
  const progress = new Map<string, OrderProgress>();
  if (orderIds.length === 0) return progress;
  const { rows } = await db.raw<{ rows: StoredRow[] }>(`SELECT ${SELECT_LIST} FROM ?? WHERE order_id = ANY (?::text[])`, [
    qualified(tables, ORDER_VIEW_TABLE),
    [...orderIds],
  ]);
  for (const row of rows) {
    const state = orderStateFromRow(fromStored(row));
    progress.set(row.order_id, { version: state.version, state });
  }
  return progress;
}

export async function writeOrderViews(db: Db, tables: TableSet, orders: readonly AppliedOrder[]): Promise<void> {
  const rows = [...orders]
    .sort((a, b) => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0))
    .map((order) => orderViewRow(order.orderId, order.state, order.recordedAt));
  await upsertRows(db, qualified(tables, ORDER_VIEW_TABLE), ORDER_VIEW_UPSERT, rows);
}
