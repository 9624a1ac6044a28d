import { initialOrderState, toOrderEvent, type OrderEvent } from '../../../domain';
import { mergeDeltas } from '../../../projections/engine/aggregate-shape';
import { CUSTOMER_ORDERS_SHAPE, customerOrdersChanges, type CustomerOrdersRow } from '../../../projections/read-models/customer-orders';
import { DAILY_SALES_SHAPE, dailySalesChanges, utcDay, type DailySalesRow } from '../../../projections/read-models/daily-sales';
import { foldOrder } from '../../../projections/engine/fold';
import { PRODUCT_METRICS_SHAPE, productMetricsChanges, type ProductMetricsRow } from '../../../projections/read-models/product-metrics';
import type { ProjectionStep } from '../../../projections/engine/types';
import * as f from '../domain/fixtures';

const RECORDED = new Date('2025-03-03T23:59:59.000Z');

/** The steps evolve takes through a history, as the runner reports them. */
function stepsOf(history: readonly OrderEvent[], orderId = f.ORDER_ID, recordedAt = RECORDED): ProjectionStep[] {
  const steps: ProjectionStep[] = [];
  const delivered = history.map((event, i) => ({ streamId: `Order-${orderId}`, streamVersion: i + 1, type: event.type, data: event.data, recordedAt }));
  foldOrder(orderId, initialOrderState, delivered, toOrderEvent, (step) => steps.push(step));
  return steps;
}

const customerOrders = (history: readonly OrderEvent[]): CustomerOrdersRow[] =>
  mergeDeltas(CUSTOMER_ORDERS_SHAPE, stepsOf(history).flatMap(customerOrdersChanges));
const dailySales = (history: readonly OrderEvent[]): DailySalesRow[] =>
  mergeDeltas(DAILY_SALES_SHAPE, stepsOf(history).flatMap(dailySalesChanges));
const productMetrics = (history: readonly OrderEvent[]): ProductMetricsRow[] =>
  mergeDeltas(PRODUCT_METRICS_SHAPE, stepsOf(history).flatMap(productMetricsChanges));

const counts = (row: CustomerOrdersRow | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(row ?? {}).filter(([key, value]) => key.startsWith('orders_') && value !== 0));

describe('customer_orders', () => {
  it('counts an order once, in the status it is in now', () => {
    for (const history of [f.draft, f.submitted, f.delivered]) {
      const [row, ...rest] = customerOrders(history);
      expect(rest).toEqual([]);
      const status = stepsOf(history).at(-1)!.after.status;
      expect(counts(row)).toEqual({ orders_total: 1, [`orders_${status}`]: 1 });
      expect(row).toMatchObject({ customer_id: f.CUSTOMER_ID, last_order_at: f.T0 });
    }
  });

  it('moves an unwinding order through compensating to its outcome', () => {
    const failedLate = [...f.captured, f.refunded('shipping_failed')];
    expect(counts(customerOrders(failedLate)[0])).toEqual({ orders_total: 1, orders_compensating: 1 });
    const ended = [...failedLate, f.failed('shipping_failed', 'shipment'), f.released('shipping_failed')];
    expect(counts(customerOrders(ended)[0])).toEqual({ orders_total: 1, orders_failed: 1 });
  });

  it('adds up several orders of a customer and keeps the newest creation time', () => {
    const later = stepsOf([{ ...f.created, data: { ...f.created.data, orderId: 'order-2', createdAt: f.T2 } } as OrderEvent], 'order-2');
    const rows = mergeDeltas(CUSTOMER_ORDERS_SHAPE, [...stepsOf(f.delivered), ...later].flatMap(customerOrdersChanges));
    expect(rows).toHaveLength(1);
    expect(counts(rows[0])).toEqual({ orders_total: 2, orders_delivered: 1, orders_draft: 1 });
    expect(rows[0]?.last_order_at).toBe(f.T2);
  });

  it('yields nothing for events that change no status', () => {
    const steps = stepsOf(f.draft);
    expect(customerOrdersChanges(steps[1]!)).toEqual([]);
  });
});

describe('daily_sales', () => {
  const zero = { orders_placed: 0, orders_confirmed: 0, orders_cancelled: 0, revenue_minor: 0, refunds_minor: 0 };

  it('books each fact on the UTC day it happened: placed, captured (recorded), confirmed', () => {
    expect(dailySales(f.delivered)).toEqual([
      { ...zero, day: '2025-03-01', currency: 'USD', orders_placed: 1 },
      { ...zero, day: '2025-03-02', currency: 'USD', orders_confirmed: 1 },
      { ...zero, day: '2025-03-03', currency: 'USD', revenue_minor: 2250 },
    ]);
  });

  it('nets refunds out of revenue and counts a placed order that ended early once', () => {
    const history = [...f.captured, f.cancelled(), f.refunded('customer_request'), f.released('customer_request')];
    expect(dailySales(history)).toEqual([
      { ...zero, day: '2025-03-01', currency: 'USD', orders_placed: 1 },
      { ...zero, day: '2025-03-02', currency: 'USD', orders_cancelled: 1 },
      { ...zero, day: '2025-03-03', currency: 'USD', revenue_minor: 0, refunds_minor: 2250 },
    ]);
  });

  it('does not count an abandoned draft as a cancelled sale, yet keeps a row for every key touched', () => {
    expect(dailySales([...f.draft, f.cancelled('draft_expired')])).toEqual([]);
    const failed = [...f.reserved, f.failed('card declined', 'payment'), f.released('card declined')];
    expect(dailySales(failed)).toEqual([
      { ...zero, day: '2025-03-01', currency: 'USD', orders_placed: 1 },
      { ...zero, day: '2025-03-02', currency: 'USD', orders_cancelled: 1 },
    ]);
  });
});

describe('utcDay', () => {
  it('is the UTC date of an instant, however it is written', () => {
    expect(utcDay('2025-03-01T23:59:59.999Z')).toBe('2025-03-01');
    expect(utcDay('2025-03-01T23:59:59Z')).toBe('2025-03-01');
    expect(utcDay('2025-03-01T23:59:59.999999Z')).toBe('2025-03-01');
    expect(utcDay(new Date('2025-03-02T00:00:00.000Z'))).toBe('2025-03-02');
  });
});

describe('product_metrics', () => {
  it('counts units and revenue sold at delivery, per SKU', () => {
    expect(productMetrics(f.confirmed)).toEqual([]);
    expect(productMetrics(f.delivered)).toEqual([
      { sku: 'SKU-A', currency: 'USD', units_sold: 2, revenue_minor: 2000, units_released: 0 },
      { sku: 'SKU-B', currency: 'USD', units_sold: 1, revenue_minor: 250, units_released: 0 },
    ]);
  });

  it('counts the units a cancellation or compensation released', () => {
    expect(productMetrics([...f.reserved, f.failed(), f.released()])).toEqual([
      { sku: 'SKU-A', currency: 'USD', units_sold: 0, revenue_minor: 0, units_released: 2 },
      { sku: 'SKU-B', currency: 'USD', units_sold: 0, revenue_minor: 0, units_released: 1 },
    ]);
  });
});

describe('mergeDeltas', () => {
  it('does not depend on how the deltas were split or ordered', () => {
    const deltas = stepsOf([...f.captured, f.cancelled(), f.refunded(), f.released()]).flatMap(dailySalesChanges);
    const whole = mergeDeltas(DAILY_SALES_SHAPE, deltas);
    const reversed = mergeDeltas(DAILY_SALES_SHAPE, [...deltas].reverse());
    const inParts = mergeDeltas(DAILY_SALES_SHAPE, [
      ...mergeDeltas(DAILY_SALES_SHAPE, deltas.slice(0, 2)),
      ...mergeDeltas(DAILY_SALES_SHAPE, deltas.slice(2)),
    ]);
    expect(reversed).toEqual(whole);
    expect(inParts).toEqual(whole);
  });
});
