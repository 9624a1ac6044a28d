import { evolve, initialOrderState, orderStateFrom, sagaProgress, type OrderEvent } from '../../../domain';
import {
  cancelled,
  captured,
  confirmed,
  created,
  delivered,
  draft,
  failed,
  itemAdded,
  ORDER_ID,
  refunded,
  released,
  reserved,
  shipmentCancelled,
  shipped,
  submitted,
  T0,
  T2,
  TOTAL,
  usd,
} from './fixtures';

describe('evolve', () => {
  it('starts from an order that does not exist', () => {
    expect(initialOrderState).toMatchObject({ status: 'none', orderId: null, version: 0, total: null });
  });

  it('counts every event in the version', () => {
    expect(orderStateFrom(draft).version).toBe(3);
    expect(orderStateFrom(delivered).version).toBe(delivered.length);
  });

  it('keeps lines by SKU and the running total', () => {
    const state = orderStateFrom([...draft, itemAdded('SKU-A', 1, usd(1000))]);
    expect(state.status).toBe('draft');
    expect(state.items['SKU-A']).toEqual({ sku: 'SKU-A', quantity: 3, unitPrice: usd(1000) });
    expect(state.total).toEqual(usd(3250));
  });

  it('drops a removed line from the total', () => {
    const state = orderStateFrom([...draft, { type: 'OrderItemRemoved', data: { orderId: ORDER_ID, sku: 'SKU-A' } }]);
    expect(Object.keys(state.items)).toEqual(['SKU-B']);
    expect(state.total).toEqual(usd(250));
  });

  it('starts a new order at zero', () => {
    const state = orderStateFrom([created]);
    expect(state).toMatchObject({ status: 'draft', customerId: 'customer-1', currency: 'USD', total: usd(0), createdAt: T0 });
  });

  it('takes the submitted lines and total as the order', () => {
    const state = orderStateFrom(submitted);
    expect(state.status).toBe('submitted');
    expect(state.total).toEqual(TOTAL);
    expect(Object.keys(state.items).sort()).toEqual(['SKU-A', 'SKU-B']);
  });

  it('clears the reference and marks the step compensated when a step is undone', () => {
    const afterRefund = orderStateFrom([...captured, refunded()]);
    expect(afterRefund).toMatchObject({ status: 'compensating', paymentId: null, reservationId: 'res-1' });
    expect(afterRefund.compensated).toEqual({ inventory: false, payment: true, shipment: false });

    const afterRelease = evolve(afterRefund, released());
    expect(afterRelease).toMatchObject({ status: 'compensating', reservationId: null });
    expect(afterRelease.compensated).toEqual({ inventory: true, payment: true, shipment: false });

    const afterShipmentCancel = orderStateFrom([...shipped, shipmentCancelled()]);
    expect(afterShipmentCancel).toMatchObject({ shipmentId: null, carrier: null, trackingNumber: null });
  });

  it('keeps the outcome of an ended order while late compensations finish', () => {
    expect(orderStateFrom([...captured, cancelled(), refunded()]).status).toBe('cancelled');
    expect(orderStateFrom([...reserved, failed(), released()]).status).toBe('failed');
  });

  it('records how the order ended', () => {
    expect(orderStateFrom([...draft, cancelled('changed my mind')])).toMatchObject({
      status: 'cancelled',
      cancellationReason: 'changed my mind',
      cancelledAt: T2,
    });
    expect(orderStateFrom([...submitted, failed('no stock', 'payment')])).toMatchObject({
      status: 'failed',
      failure: { reason: 'no stock', step: 'payment' },
      failedAt: T2,
    });
  });

  it('never changes the state it is given', () => {
    const history: OrderEvent[] = [...captured, refunded()];
    const before = orderStateFrom(captured);
    const snapshot = structuredClone(before);
    evolve(before, history[history.length - 1] as OrderEvent);
    expect(before).toEqual(snapshot);
  });

  it('keeps state plain JSON, for workflow queries', () => {
    const state = orderStateFrom(delivered);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });
});

describe('sagaProgress', () => {
  it('has every step pending for a draft', () => {
    expect(sagaProgress(orderStateFrom(draft))).toEqual({
      done: [],
      compensated: [],
      pending: ['inventory', 'payment', 'shipment', 'confirmation'],
      awaitingCompensation: [],
      unsettled: [],
    });
  });

  it('moves steps from pending to done as the saga runs', () => {
    expect(sagaProgress(orderStateFrom(captured))).toEqual({
      done: ['inventory', 'payment'],
      compensated: [],
      pending: ['shipment', 'confirmation'],
      awaitingCompensation: [],
      unsettled: [],
    });
    expect(sagaProgress(orderStateFrom(confirmed)).pending).toEqual([]);
    expect(sagaProgress(orderStateFrom(delivered)).done).toEqual(['inventory', 'payment', 'shipment', 'confirmation']);
  });

  it('lists what is left to undo, last step first, while unwinding', () => {
    expect(sagaProgress(orderStateFrom([...shipped, shipmentCancelled()]))).toEqual({
      done: ['inventory', 'payment'],
      compensated: ['shipment'],
      pending: [],
      awaitingCompensation: ['payment', 'inventory'],
      unsettled: [],
    });
  });

  it('shows a cancelled order that still owes a refund', () => {
    expect(sagaProgress(orderStateFrom([...captured, cancelled()])).awaitingCompensation).toEqual(['payment', 'inventory']);
  });

  it('shows a fully compensated order as clean', () => {
    const progress = sagaProgress(orderStateFrom([...captured, refunded(), released(), cancelled()]));
    expect(progress).toEqual({ done: [], compensated: ['inventory', 'payment'], pending: [], awaitingCompensation: [], unsettled: [] });
  });
});
