import type { Knex } from 'knex';
import type { QueryResultRow } from 'pg';
import { queryPrepared, type PreparedStatement } from '../infra/postgres';
import { sortedLines, type OrderState } from '../domain';

/** The read side of the API: queries over the projections' read models, nothing else. */

export interface OrderViewRow extends QueryResultRow {
  order_id: string;
  customer_id: string | null;
  status: string;
  currency: string | null;
  items: { sku: string; quantity: number; unitPrice: { amountMinor: number; currency: string } }[];
  total_minor: string | null;
  payment_id: string | null;
  shipment_id: string | null;
  carrier: string | null;
  tracking_number: string | null;
  failure_reason: string | null;
  failed_step: string | null;
  cancellation_reason: string | null;
  unsettled_steps: string[];
  created_at: Date | null;
  submitted_at: Date | null;
  confirmed_at: Date | null;
  delivered_at: Date | null;
  cancelled_at: Date | null;
  failed_at: Date | null;
  updated_at: Date;
  last_version: string;
}

export interface OrderView {
  orderId: string;
  customerId: string | null;
  status: string;
  version: number;
  items: OrderViewRow['items'];
  total: { amountMinor: number; currency: string } | null;
  paymentId: string | null;
  shipmentId: string | null;
  carrier: string | null;
  trackingNumber: string | null;
  failure: { reason: string; step: string | null } | null;
  cancellationReason: string | null;
  /** Saga steps whose undo could not be done (status compensation_failed): an operator must settle them. */
  unsettledSteps: string[];
  createdAt: string | null;
  submittedAt: string | null;
  confirmedAt: string | null;
  deliveredAt: string | null;
  cancelledAt: string | null;
  failedAt: string | null;
  updatedAt: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toOrderView(row: OrderViewRow): OrderView {
  return {
    orderId: row.order_id,
    customerId: row.customer_id,
    status: row.status,
    version: Number(row.last_version),
    items: row.items,
    total: row.total_minor !== null && row.currency ? { amountMinor: Number(row.total_minor), currency: row.currency } : null,
    paymentId: row.payment_id,
    shipmentId: row.shipment_id,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    failure: row.failure_reason ? { reason: row.failure_reason, step: row.failed_step } : null,
    cancellationReason: row.cancellation_reason,
    unsettledSteps: row.unsettled_steps ?? [],
    createdAt: iso(row.created_at),
    submittedAt: iso(row.submitted_at),
    confirmedAt: iso(row.confirmed_at),
    deliveredAt: iso(row.delivered_at),
    cancelledAt: iso(row.cancelled_at),
    failedAt: iso(row.failed_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** The view of an order the read model does not hold yet, from the workflow's own state. */
export function orderViewFromState(state: OrderState): OrderView {
  const times = [state.createdAt, state.submittedAt, state.confirmedAt, state.deliveredAt, state.cancelledAt, state.failedAt].filter(
    (t): t is string => t !== null,
  );
  return {
    orderId: state.orderId ?? '',
    customerId: state.customerId,
    status: state.status,
    version: state.version,
    items: sortedLines(state.items),
    total: state.total,
    paymentId: state.paymentId,
    shipmentId: state.shipmentId,
    carrier: state.carrier,
    trackingNumber: state.trackingNumber,
    failure: state.failure,
    cancellationReason: state.cancellationReason,
    unsettledSteps: [...state.unsettled],
    createdAt: state.createdAt,
    submittedAt: state.submittedAt,
    confirmedAt: state.confirmedAt,
    deliveredAt: state.deliveredAt,
    cancelledAt: state.cancelledAt,
    failedAt: state.failedAt,
    updatedAt: times.sort().at(-1) ?? new Date().toISOString(),
  };
}

const FIND_ORDER: PreparedStatement = { name: 'api_find_order', text: 'SELECT * FROM order_view WHERE order_id = $1' };

export async function findOrder(db: Knex, orderId: string): Promise<OrderViewRow | undefined> {
  return (await queryPrepared<OrderViewRow>(db, FIND_ORDER, [orderId]))[0];
}

/** Waits (polling briefly) until the read model holds at least `minVersion` of the order. */
export async function findOrderAtLeast(db: Knex, orderId: string, minVersion: number, waitMs: number): Promise<OrderViewRow | undefined> {
  const deadline = Date.now() + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const row = await findOrder(db, orderId);
    if ((row && Number(row.last_version) >= minVersion) || Date.now() >= deadline) return row;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

export interface OrderPage {
  orders: OrderView[];
  nextCursor: string | null;
}

/** Keyset pagination, newest first, by (created_at, order_id). The cursor is opaque to clients. */
export async function listOrders(
  db: Knex,
  filter: { customerId?: string; status?: string; limit: number; cursor?: Cursor },
): Promise<OrderPage> {
  const query = db('order_view').orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'order_id', order: 'desc' },
  ]);
  if (filter.customerId) query.where('customer_id', filter.customerId);
  if (filter.status) query.where('status', filter.status);
  if (filter.cursor) {
    query.whereRaw("(created_at, order_id) < (TIMESTAMPTZ 'epoch' + ?::bigint * INTERVAL '1 millisecond', ?)", [filter.cursor.createdAtMs, filter.cursor.orderId]);
  }
  const rows = (await query.limit(filter.limit + 1)) as OrderViewRow[];
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  const nextCursor = rows.length > filter.limit && last?.created_at ? encodeCursor({ createdAtMs: last.created_at.getTime(), orderId: last.order_id }) : null;
  return { orders: page.map(toOrderView), nextCursor };
}

/**
 * A position in the listing, '<created_at in ms since the epoch>~<order id>' (api/schemas.ts
 * CURSOR_PATTERN): readable rather than opaque, so that every cursor the document allows is a
 * position the API can page from.
 */
export interface Cursor {
  createdAtMs: number;
  orderId: string;
}

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.createdAtMs}~${cursor.orderId}`;
}

/** Decodes a cursor that matched CURSOR_PATTERN. */
export function decodeCursor(cursor: string): Cursor {
  const split = cursor.indexOf('~');
  return { createdAtMs: Number(cursor.slice(0, split)), orderId: cursor.slice(split + 1) };
}

export async function dailySales(db: Knex, from: string, to: string) {
  const rows = await db('daily_sales')
    .whereBetween('day', [from, to])
    .orderBy([{ column: 'day' }, { column: 'currency' }])
    .select<
      { day: Date | string; currency: string; orders_placed: string; orders_confirmed: string; orders_cancelled: string; revenue_minor: string; refunds_minor: string }[]
    >(db.raw("to_char(day, 'YYYY-MM-DD') AS day"), 'currency', 'orders_placed', 'orders_confirmed', 'orders_cancelled', 'revenue_minor', 'refunds_minor');
  return rows.map((r) => ({
    day: String(r.day),
    currency: r.currency,
    ordersPlaced: Number(r.orders_placed),
    ordersConfirmed: Number(r.orders_confirmed),
    ordersCancelled: Number(r.orders_cancelled),
    revenueMinor: Number(r.revenue_minor),
    refundsMinor: Number(r.refunds_minor),
  }));
}

export async function topProducts(db: Knex, limit: number) {
  const rows = await db('product_metrics')
    .orderBy([{ column: 'units_sold', order: 'desc' }, { column: 'sku' }])
    .limit(limit)
    .select<{ sku: string; currency: string; units_sold: string; revenue_minor: string; units_released: string }[]>(
      'sku',
      'currency',
      'units_sold',
      'revenue_minor',
      'units_released',
    );
  return rows.map((r) => ({
    sku: r.sku,
    currency: r.currency,
    unitsSold: Number(r.units_sold),
    revenueMinor: Number(r.revenue_minor),
    unitsReleased: Number(r.units_released),
  }));
}
