import type { OrderStatus } from '../../domain';
import type { AggregateShape } from '../engine/aggregate-shape';
import { toIso } from './order-view';
import type { ProjectionStep } from '../engine/types';

/**
 * customer_orders: per customer, the number of orders, how many of them are in each status now, and when
 * the newest was created. A status change moves one order from its old status's count to the new one's.
 */
export type CountedStatus = Exclude<OrderStatus, 'none'>;
export type StatusColumn = `orders_${CountedStatus}`;

export type CustomerOrdersRow = {
  customer_id: string;
  orders_total: number;
  last_order_at: string | null;
} & Record<StatusColumn, number>;

// A Record over every status, so that a status the domain adds does not compile until it has a column.
const STATUS_COLUMNS: Readonly<Record<CountedStatus, StatusColumn>> = {
  draft: 'orders_draft',
  submitted: 'orders_submitted',
  inventory_reserved: 'orders_inventory_reserved',
  payment_captured: 'orders_payment_captured',
  shipment_created: 'orders_shipment_created',
  confirmed: 'orders_confirmed',
  delivered: 'orders_delivered',
  compensating: 'orders_compensating',
  cancelled: 'orders_cancelled',
  failed: 'orders_failed',
  compensation_failed: 'orders_compensation_failed',
};

export const statusColumn = (status: CountedStatus): StatusColumn => STATUS_COLUMNS[status];

const STATUS_COLUMN_LIST = Object.values(STATUS_COLUMNS);

export const CUSTOMER_ORDERS_SHAPE: AggregateShape<CustomerOrdersRow> = {
  table: 'customer_orders',
  keys: ['customer_id'],
  sums: ['orders_total', ...STATUS_COLUMN_LIST],
  greatest: ['last_order_at'],
  columns: {
    customer_id: 'text',
    orders_total: 'bigint',
    last_order_at: 'timestamptz',
    ...(Object.fromEntries(STATUS_COLUMN_LIST.map((column) => [column, 'bigint'])) as Record<StatusColumn, string>),
  },
};

const ZERO_COUNTS = Object.fromEntries(STATUS_COLUMN_LIST.map((column) => [column, 0])) as Record<StatusColumn, number>;

function emptyRow(customerId: string): CustomerOrdersRow {
  return { customer_id: customerId, orders_total: 0, last_order_at: null, ...ZERO_COUNTS };
}

export function customerOrdersChanges({ before, after }: ProjectionStep): CustomerOrdersRow[] {
  // Until OrderCreated the order belongs to nobody, and no stored history starts otherwise.
  if (after.customerId === null) return [];
  const created = before.status === 'none' && after.status !== 'none';
  if (!created && before.status === after.status) return [];
  const row = emptyRow(after.customerId);
  if (created) {
    row.orders_total = 1;
    row.last_order_at = after.createdAt === null ? null : toIso(after.createdAt);
  }
  if (before.status !== 'none') row[STATUS_COLUMNS[before.status]] -= 1;
  if (after.status !== 'none') row[STATUS_COLUMNS[after.status]] += 1;
  return [row];
}
