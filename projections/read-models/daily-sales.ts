import type { OrderStatus } from '../../domain';
import type { AggregateShape } from '../engine/aggregate-shape';
import { toIso } from './order-view';
import type { ProjectionStep } from '../engine/types';

/**
 * daily_sales: per UTC day and currency. Every fact is booked on the day it happened, so a day's row
 * never changes once the day is over except through facts of that day:
 *  - orders_placed: orders submitted that day (OrderSubmitted.submittedAt);
 *  - orders_confirmed: orders confirmed that day (OrderConfirmed.confirmedAt);
 *  - orders_cancelled: placed orders that ended cancelled or failed that day. A draft that was abandoned
 *    (cancelled before it was submitted) was never a sale, so it is not counted;
 *  - revenue_minor: money captured that day minus money refunded that day (net takings);
 *  - refunds_minor: money refunded that day.
 * Payment events carry no time of their own, so they are booked on the day the event store recorded them.
 */
export type DailySalesRow = {
  day: string;
  currency: string;
  orders_placed: number;
  orders_confirmed: number;
  orders_cancelled: number;
  revenue_minor: number;
  refunds_minor: number;
};

export const DAILY_SALES_SHAPE: AggregateShape<DailySalesRow> = {
  table: 'daily_sales',
  keys: ['day', 'currency'],
  sums: ['orders_placed', 'orders_confirmed', 'orders_cancelled', 'revenue_minor', 'refunds_minor'],
  greatest: [],
  columns: {
    day: 'date',
    currency: 'text',
    orders_placed: 'bigint',
    orders_confirmed: 'bigint',
    orders_cancelled: 'bigint',
    revenue_minor: 'bigint',
    refunds_minor: 'bigint',
  },
};

type Counts = Partial<Omit<DailySalesRow, 'day' | 'currency'>>;

// How Date#toISOString writes an instant, which is how the domain writes every time in its events.
const CANONICAL_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The UTC calendar day (YYYY-MM-DD) of an instant. */
export const utcDay = (at: string | Date): string =>
  (typeof at === 'string' && CANONICAL_ISO.test(at) ? at : toIso(at)).slice(0, 10);

function row(at: string | Date, currency: string, counts: Counts): DailySalesRow {
  return {
    day: utcDay(at),
    currency,
    orders_placed: 0,
    orders_confirmed: 0,
    orders_cancelled: 0,
    revenue_minor: 0,
    refunds_minor: 0,
    ...counts,
  };
}

const ENDED_EARLY: readonly OrderStatus[] = ['cancelled', 'failed'];

export function dailySalesChanges({ before, event, after, recordedAt }: ProjectionStep): DailySalesRow[] {
  switch (event.type) {
    case 'OrderSubmitted':
      return [row(event.data.submittedAt, event.data.total.currency, { orders_placed: 1 })];
    case 'OrderConfirmed':
      return after.currency === null ? [] : [row(event.data.confirmedAt, after.currency, { orders_confirmed: 1 })];
    case 'OrderCancelled':
    case 'OrderFailed': {
      const placed = before.submittedAt !== null;
      const newlyEnded = !ENDED_EARLY.includes(before.status) && ENDED_EARLY.includes(after.status);
      if (!placed || !newlyEnded || after.currency === null) return [];
      const at = event.type === 'OrderCancelled' ? event.data.cancelledAt : event.data.failedAt;
      return [row(at, after.currency, { orders_cancelled: 1 })];
    }
    case 'PaymentCaptured':
      return [row(recordedAt, event.data.amount.currency, { revenue_minor: event.data.amount.amountMinor })];
    case 'PaymentRefunded': {
      const { amountMinor, currency } = event.data.amount;
      return [row(recordedAt, currency, { revenue_minor: -amountMinor, refunds_minor: amountMinor })];
    }
    default:
      return [];
  }
}
