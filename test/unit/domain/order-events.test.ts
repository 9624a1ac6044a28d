import { EventRegistry } from '../../../eventstore/registry';
import { InvalidEventError, UnknownEventTypeError } from '../../../eventstore/errors';
import {
  ORDER_EVENT_DEFINITIONS,
  ORDER_STREAM_TYPE,
  orderIdFromStreamId,
  orderStateFrom,
  orderStreamId,
  toOrderEvent,
  isOrderEventType,
} from '../../../domain';
import { delivered, draft, failed, refunded, released, shipmentCancelled, cancelled, ORDER_ID } from './fixtures';

const registry = new EventRegistry(ORDER_EVENT_DEFINITIONS);

describe('order events', () => {
  it('defines each event type once', () => {
    expect(ORDER_EVENT_DEFINITIONS.map((d) => d.type)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderItemRemoved',
      'OrderSubmitted',
      'InventoryReserved',
      'InventoryReleased',
      'PaymentCaptured',
      'PaymentRefunded',
      'ShipmentCreated',
      'ShipmentCancelled',
      'OrderConfirmed',
      'OrderDelivered',
      'OrderCancelled',
      'OrderFailed',
      'CompensationFailed',
    ]);
  });

  it('writes OrderCreated as schema version 2 and the others as version 1', () => {
    expect(registry.validateForAppend('OrderCreated', draft[0]?.data).schemaVersion).toBe(2);
    expect(registry.validateForAppend('OrderCancelled', cancelled().data).schemaVersion).toBe(1);
  });

  it('accepts every event the fixtures use', () => {
    for (const event of [...delivered, released(), refunded(), shipmentCancelled(), cancelled(), failed()]) {
      expect(() => registry.validateForAppend(event.type, event.data)).not.toThrow();
    }
  });

  describe('OrderCreated v1 → v2', () => {
    const v1 = { orderId: ORDER_ID, customerId: 'customer-1', createdAt: '2019-05-01T00:00:00.000Z' };

    it('no longer validates a v1 payload, which has no currency', () => {
      expect(() => registry.validateForAppend('OrderCreated', v1)).toThrow(InvalidEventError);
    });

    it('upcasts a stored v1 payload by adding the USD currency every v1 order was in', () => {
      const upcast = registry.upcast('OrderCreated', 1, v1);
      expect(upcast).toEqual({ schemaVersion: 2, data: { ...v1, currency: 'USD' } });
      expect(() => registry.validateForAppend('OrderCreated', upcast.data)).not.toThrow();
    });

    it('replays an old stream into an order priced in USD', () => {
      const { data } = registry.upcast('OrderCreated', 1, v1);
      const state = orderStateFrom([toOrderEvent({ type: 'OrderCreated', data }), ...draft.slice(1)]);
      expect(state).toMatchObject({ status: 'draft', currency: 'USD', total: { amountMinor: 2250, currency: 'USD' } });
    });

    it('leaves a v2 payload as it is', () => {
      const v2 = { ...v1, currency: 'EUR' };
      expect(registry.upcast('OrderCreated', 2, v2)).toEqual({ schemaVersion: 2, data: v2 });
    });
  });

  it('rejects payloads that break the schemas', () => {
    const bad: [string, unknown][] = [
      ['OrderItemAdded', { orderId: ORDER_ID, sku: 'A', quantity: 0, unitPrice: { amountMinor: 1, currency: 'USD' } }],
      ['OrderItemAdded', { orderId: ORDER_ID, sku: 'A', quantity: 1, unitPrice: { amountMinor: 1.5, currency: 'USD' } }],
      ['OrderSubmitted', { orderId: ORDER_ID, total: { amountMinor: 0, currency: 'USD' }, items: [], submittedAt: '2025-01-01T00:00:00.000Z' }],
      ['OrderConfirmed', { orderId: ORDER_ID, confirmedAt: 'not a date' }],
      ['OrderFailed', { orderId: ORDER_ID, reason: 'x', failedStep: 'billing', failedAt: '2025-01-01T00:00:00.000Z' }],
      ['OrderCreated', { orderId: 'with space', customerId: 'c', currency: 'USD', createdAt: '2025-01-01T00:00:00.000Z' }],
    ];
    for (const [type, data] of bad) expect(() => registry.validateForAppend(type, data)).toThrow(InvalidEventError);
  });

  it('names streams Order-<orderId>', () => {
    expect(ORDER_STREAM_TYPE).toBe('Order');
    expect(orderStreamId('abc-1')).toBe('Order-abc-1');
    expect(orderIdFromStreamId('Order-abc-1')).toBe('abc-1');
    expect(orderIdFromStreamId('Payment-abc-1')).toBeUndefined();
  });

  it('turns a stored event into a typed OrderEvent, checking it', () => {
    const stored = { type: 'OrderCancelled', data: cancelled().data as unknown };
    expect(toOrderEvent(stored)).toEqual(cancelled());
    expect(isOrderEventType('OrderCancelled')).toBe(true);
    expect(isOrderEventType('SomethingElse')).toBe(false);
    expect(() => toOrderEvent({ type: 'SomethingElse', data: {} })).toThrow(UnknownEventTypeError);
    expect(() => toOrderEvent({ type: 'OrderCancelled', data: { orderId: ORDER_ID } })).toThrow(InvalidEventError);
  });
});
