import {
  COMPENSABLE_STEPS,
  sortedLines,
  type CompensableStep,
  type FailedStep,
  type OrderLine,
  type OrderState,
  type OrderStatus,
} from '../../domain';

/**
 * order_view: one row per order, the order's state as the domain's evolve leaves it after the events up to
 * last_version. The row holds the whole state, so the state is read back from it to apply the next event;
 * the mapping is lossless both ways (see the unit tests) and restates no rule of the domain.
 */
export interface OrderViewRow {
  order_id: string;
  customer_id: string | null;
  status: OrderStatus;
  currency: string | null;
  items: OrderLine[];
  total_minor: number | null;
  reservation_id: string | null;
  payment_id: string | null;
  shipment_id: string | null;
  carrier: string | null;
  tracking_number: string | null;
  failure_reason: string | null;
  failed_step: FailedStep | null;
  cancellation_reason: string | null;
  compensated_steps: CompensableStep[];
  unsettled_steps: CompensableStep[];
  created_at: string | null;
  submitted_at: string | null;
  confirmed_at: string | null;
  delivered_at: string | null;
  cancelled_at: string | null;
  failed_at: string | null;
  updated_at: string;
  last_version: number;
}

/** Postgres types of the columns, for the set-based upsert. */
export const ORDER_VIEW_COLUMNS: Readonly<Record<keyof OrderViewRow, string>> = {
  order_id: 'text',
  customer_id: 'text',
  status: 'text',
  currency: 'text',
  items: 'jsonb',
  total_minor: 'bigint',
  reservation_id: 'text',
  payment_id: 'text',
  shipment_id: 'text',
  carrier: 'text',
  tracking_number: 'text',
  failure_reason: 'text',
  failed_step: 'text',
  cancellation_reason: 'text',
  compensated_steps: 'text[]',
  unsettled_steps: 'text[]',
  created_at: 'timestamptz',
  submitted_at: 'timestamptz',
  confirmed_at: 'timestamptz',
  delivered_at: 'timestamptz',
  cancelled_at: 'timestamptz',
  failed_at: 'timestamptz',
  updated_at: 'timestamptz',
  last_version: 'bigint',
};

/**
 * Timestamps go through Date on the way in, so a row written from events and one written from a state
 * read back from the table agree to the millisecond (timestamptz would keep microseconds JS cannot).
 */
export function toIso(value: string | Date): string {
  return (typeof value === 'string' ? new Date(value) : value).toISOString();
}

const isoOrNull = (value: string | null): string | null => (value === null ? null : toIso(value));

export function orderViewRow(orderId: string, state: OrderState, recordedAt: Date): OrderViewRow {
  return {
    order_id: orderId,
    customer_id: state.customerId,
    status: state.status,
    currency: state.currency,
    items: sortedLines(state.items),
    total_minor: state.total?.amountMinor ?? null,
    reservation_id: state.reservationId,
    payment_id: state.paymentId,
    shipment_id: state.shipmentId,
    carrier: state.carrier,
    tracking_number: state.trackingNumber,
    failure_reason: state.failure?.reason ?? null,
    failed_step: state.failure?.step ?? null,
    cancellation_reason: state.cancellationReason,
    compensated_steps: COMPENSABLE_STEPS.filter((step) => state.compensated[step]),
    unsettled_steps: [...state.unsettled],
    created_at: isoOrNull(state.createdAt),
    submitted_at: isoOrNull(state.submittedAt),
    confirmed_at: isoOrNull(state.confirmedAt),
    delivered_at: isoOrNull(state.deliveredAt),
    cancelled_at: isoOrNull(state.cancelledAt),
    failed_at: isoOrNull(state.failedAt),
    updated_at: toIso(recordedAt),
    last_version: state.version,
  };
}

export function orderStateFromRow(row: OrderViewRow): OrderState {
  const compensated = (step: CompensableStep): boolean => row.compensated_steps.includes(step);
  // Only an order that was never created has a total without a currency; no stored history has one.
  const totalCurrency = row.currency ?? row.items[0]?.unitPrice.currency;
  return {
    orderId: row.order_id,
    status: row.status,
    customerId: row.customer_id,
    currency: row.currency,
    items: Object.fromEntries(row.items.map((line) => [line.sku, line])),
    total: row.total_minor === null || totalCurrency === undefined ? null : { amountMinor: row.total_minor, currency: totalCurrency },
    reservationId: row.reservation_id,
    paymentId: row.payment_id,
    shipmentId: row.shipment_id,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    compensated: { inventory: compensated('inventory'), payment: compensated('payment'), shipment: compensated('shipment') },
    unsettled: row.unsettled_steps,
    createdAt: row.created_at,
    submittedAt: row.submitted_at,
    confirmedAt: row.confirmed_at,
    deliveredAt: row.delivered_at,
    cancelledAt: row.cancelled_at,
    cancellationReason: row.cancellation_reason,
    failedAt: row.failed_at,
    failure: row.failure_reason === null || row.failed_step === null ? null : { reason: row.failure_reason, step: row.failed_step },
    version: row.last_version,
  };
}
