import type { AggregateRow, AggregateShape } from '../aggregate-shape';
import { added, excluded, greatest, upsertRows, type UpsertSpec } from '../sql';
import { fromStoredState, toStoredState, type StoredOrderState } from '../stored-state';
import { qualified, type TableSet } from '../tables';
import type { AppliedOrder, Db, OrderProgress } from '../types';

/**
 * Storage of an aggregate projection: its table of summed rows, and <table>_applied holding each order's
 * last applied version and, while the order may still change, the state after it (the deltas of the
 * next event are computed from it; see stored-state.ts).
 */
export interface AggregateStorage<Row extends AggregateRow> {
  readonly table: string;
  readonly appliedTable: string;
  load(db: Db, tables: TableSet, orderIds: readonly string[], options: { lock: boolean }): Promise<Map<string, OrderProgress>>;
  /** Writes summed rows (one per key, sorted) and the orders' new versions and states. */
  write(db: Db, tables: TableSet, sums: readonly Row[], orders: readonly AppliedOrder[]): Promise<void>;
}

const APPLIED_UPSERT: UpsertSpec = {
  columns: { order_id: 'text', last_version: 'bigint', state: 'jsonb' },
  keys: ['order_id'],
  update: excluded,
  where: 't.last_version < excluded.last_version',
};

const byOrderId = (a: AppliedOrder, b: AppliedOrder): number => (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0);

/** Adds summed deltas to the rows (and keeps the greatest of `greatest` columns). */
export function aggregateUpsert<Row extends AggregateRow>(shape: AggregateShape<Row>): UpsertSpec {
  return {
    columns: shape.columns,
    keys: shape.keys,
    update: (column) => (shape.greatest.includes(column) ? greatest(column) : added(column)),
  };
}

export function aggregateStorage<Row extends AggregateRow>(shape: AggregateShape<Row>): AggregateStorage<Row> {
  const appliedTable = `${shape.table}_applied`;
  const rowsUpsert = aggregateUpsert(shape);

  return {
    table: shape.table,
    appliedTable,

    async load(db, tables, orderIds, { lock }) {
      const progress = new Map<string, OrderProgress>();
      if (orderIds.length === 0) return progress;
      const table = qualified(tables, appliedTable);
      const sorted = [...orderIds].sort();
      if (lock) {
        // Claim a row for every order first, so that even an order seen for the first time has a row to
        // lock: a concurrent batch of the same order then waits here instead of adding its deltas twice.
        // Claims and locks go in order-id order, so two batches cannot wait on each other.
        await db.raw(
          `INSERT INTO ?? (order_id, last_version) SELECT unnest(?::text[]), 0 ON CONFLICT (order_id) DO NOTHING`,
          [table, sorted],
        );
      }
      const { rows } = await db.raw<{ rows: { order_id: string; last_version: string; state: StoredOrderState | null }[] }>(
        `SELECT order_id, last_version, state FROM ?? WHERE order_id = ANY (?::text[]) ORDER BY order_id${lock ? ' FOR UPDATE' : ''}`,
        [table, sorted],
      );
      for (const row of rows) {
        const version = Number(row.last_version);
        if (version > 0) progress.set(row.order_id, { version, state: row.state === null ? undefined : fromStoredState(row.state) });
      }
      return progress;
    },

    async write(db, tables, sums, orders) {
      await upsertRows(db, qualified(tables, shape.table), rowsUpsert, sums);
      const applied = [...orders].sort(byOrderId).map((order) => ({
        order_id: order.orderId,
        last_version: order.state.version,
        state: toStoredState(order.state),
      }));
      await upsertRows(db, qualified(tables, appliedTable), APPLIED_UPSERT, applied);
    },
  };
}
