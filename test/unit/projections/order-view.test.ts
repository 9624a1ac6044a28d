import { orderStateFrom, type OrderEvent } from '../../../domain';
import { orderStateFromRow, orderViewRow } from '../../../projections/read-models/order-view';
import * as f from '../domain/fixtures';

const RECORDED = new Date('2025-03-02T09:00:00.123Z');

const histories: Record<string, OrderEvent[]> = {
  draft: f.draft,
  delivered: f.delivered,
  'failed in payment, released': [...f.reserved, f.failed('card declined', 'payment'), f.released('card declined')],
  'cancelled, refunded, released': [...f.captured, f.cancelled(), f.refunded('customer_request'), f.released('customer_request')],
  'lost in delivery, fully compensated': [
    ...f.confirmed,
    f.failed('delivery_timeout', 'delivery'),
    f.shipmentCancelled('delivery_timeout'),
    f.refunded('delivery_timeout'),
    f.released('delivery_timeout'),
  ],
};

describe('order_view rows', () => {
  it.each(Object.entries(histories))('hold the whole state after every event: %s', (_, history) => {
    for (let n = 1; n <= history.length; n++) {
      const state = orderStateFrom(history.slice(0, n));
      const row = orderViewRow(f.ORDER_ID, state, RECORDED);
      expect(orderStateFromRow(row)).toEqual(state);
      // and what goes through JSON to Postgres and back stays the same row
      expect(JSON.parse(JSON.stringify(row))).toEqual(row);
    }
  });

  it('show a delivered order as the API needs it', () => {
    const row = orderViewRow(f.ORDER_ID, orderStateFrom(f.delivered), RECORDED);
    expect(row).toEqual({
      order_id: f.ORDER_ID,
      customer_id: f.CUSTOMER_ID,
      status: 'delivered',
      currency: 'USD',
      items: [
        { sku: 'SKU-A', quantity: 2, unitPrice: f.usd(1000) },
        { sku: 'SKU-B', quantity: 1, unitPrice: f.usd(250) },
      ],
      total_minor: 2250,
      reservation_id: 'res-1',
      payment_id: 'pay-1',
      shipment_id: 'ship-1',
      carrier: 'UPS',
      tracking_number: '1Z999',
      failure_reason: null,
      failed_step: null,
      cancellation_reason: null,
      compensated_steps: [],
      unsettled_steps: [],
      created_at: f.T0,
      submitted_at: f.T1,
      confirmed_at: f.T2,
      delivered_at: f.T2,
      cancelled_at: null,
      failed_at: null,
      updated_at: RECORDED.toISOString(),
      last_version: f.delivered.length,
    });
  });

  it('record failures and the steps compensated so far', () => {
    const history = [...f.confirmed, f.failed('delivery_timeout', 'delivery'), f.shipmentCancelled('delivery_timeout')];
    const row = orderViewRow(f.ORDER_ID, orderStateFrom(history), RECORDED);
    expect(row).toMatchObject({
      status: 'failed',
      failure_reason: 'delivery_timeout',
      failed_step: 'delivery',
      failed_at: f.T2,
      compensated_steps: ['shipment'],
      shipment_id: null,
      carrier: null,
      tracking_number: null,
      payment_id: 'pay-1',
    });
  });

  it('write times at millisecond precision, so rows from events and from stored rows agree', () => {
    const created: OrderEvent = { type: 'OrderCreated', data: { ...f.created.data, createdAt: '2025-03-01T10:00:00.123456Z' } } as OrderEvent;
    const fromEvents = orderViewRow(f.ORDER_ID, orderStateFrom([created]), RECORDED);
    expect(fromEvents.created_at).toBe('2025-03-01T10:00:00.123Z');
    expect(orderViewRow(f.ORDER_ID, orderStateFromRow(fromEvents), RECORDED)).toEqual(fromEvents);
  });
});
