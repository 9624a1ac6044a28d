import { decide, evolve, initialOrderState, type OrderCommand, type OrderEvent, type OrderState } from '../../../domain';
import { given } from './given-when-then';
import {
  capturedEvent,
  captured,
  confirmed,
  confirmedEvent,
  CUSTOMER_ID,
  delivered,
  deliveredEvent,
  draft,
  ORDER_ID,
  released,
  reserved,
  reservedEvent,
  shipped,
  shippedEvent,
  submitted,
  T0,
  T1,
  T2,
  TOTAL,
  usd,
} from './fixtures';

const reserve = (reservationId = 'res-1'): OrderCommand => ({ type: 'RecordInventoryReserved', data: { reservationId } });
const capture = (paymentId = 'pay-1', amount = TOTAL): OrderCommand => ({ type: 'RecordPaymentCaptured', data: { paymentId, amount } });
const ship = (shipmentId = 'ship-1'): OrderCommand => ({
  type: 'RecordShipmentCreated',
  data: { shipmentId, carrier: 'UPS', trackingNumber: '1Z999' },
});
const confirm: OrderCommand = { type: 'ConfirmOrder', data: { now: T2 } };
const deliver: OrderCommand = { type: 'MarkDelivered', data: { now: T2 } };

describe('the happy path', () => {
  it('runs from creation to delivery, one decision at a time', () => {
    const commands: OrderCommand[] = [
      { type: 'CreateOrder', data: { orderId: ORDER_ID, customerId: CUSTOMER_ID, currency: 'USD', now: T0 } },
      { type: 'AddItem', data: { sku: 'SKU-B', quantity: 1, unitPrice: usd(250) } },
      { type: 'AddItem', data: { sku: 'SKU-A', quantity: 2, unitPrice: usd(1000) } },
      { type: 'SubmitOrder', data: { now: T1 } },
      reserve(),
      capture(),
      ship(),
      confirm,
      deliver,
    ];
    const statuses: string[] = [];
    let state: OrderState = initialOrderState;
    const history: OrderEvent[] = [];
    for (const command of commands) {
      for (const event of decide(command, state)) {
        history.push(event);
        state = evolve(state, event);
      }
      statuses.push(state.status);
    }
    expect(history).toEqual(delivered);
    expect(statuses).toEqual([
      'draft',
      'draft',
      'draft',
      'submitted',
      'inventory_reserved',
      'payment_captured',
      'shipment_created',
      'confirmed',
      'delivered',
    ]);
    expect(state).toMatchObject({
      total: TOTAL,
      reservationId: 'res-1',
      paymentId: 'pay-1',
      shipmentId: 'ship-1',
      carrier: 'UPS',
      trackingNumber: '1Z999',
      deliveredAt: T2,
      version: 9,
    });
  });
});

describe('reserving inventory', () => {
  it('records the reservation of the submitted lines', () => {
    given(submitted).when(reserve()).then([reservedEvent]);
  });

  it('does nothing when the same reservation is recorded again', () => {
    given(reserved).when(reserve()).then([]);
    given(captured).when(reserve()).then([]);
  });

  it('refuses a second, different reservation', () => {
    given(reserved).when(reserve('res-2')).thenThrows('INVALID_TRANSITION', /inventory_reserved, not submitted/);
  });

  it('refuses a reservation before submission', () => {
    given(draft).when(reserve()).thenThrows('INVALID_TRANSITION', /is draft, not submitted/);
  });

  it('refuses a reservation once the order is unwinding', () => {
    given([...reserved, released()]).when(reserve()).thenThrows('INVALID_TRANSITION');
  });

  it('refuses a blank reservation id', () => {
    given(submitted).when(reserve('')).thenThrows('INVALID_ARGUMENT', /reservationId/);
  });

  it('refuses a reservation for an order that does not exist', () => {
    given([]).when(reserve()).thenThrows('ORDER_NOT_FOUND');
  });
});

describe('capturing payment', () => {
  it('records a capture of the order total after the reservation', () => {
    given(reserved).when(capture()).then([capturedEvent]);
  });

  it('does nothing when the same capture is recorded again', () => {
    given(captured).when(capture()).then([]);
    given(shipped).when(capture()).then([]);
  });

  it('refuses a second, different capture, so that nobody is charged twice', () => {
    given(captured).when(capture('pay-2')).thenThrows('INVALID_TRANSITION');
  });

  it('refuses a capture before inventory is reserved', () => {
    given(submitted).when(capture()).thenThrows('INVALID_TRANSITION', /is submitted, not inventory_reserved/);
  });

  it('refuses a capture of another amount than the total', () => {
    given(reserved).when(capture('pay-1', usd(2000))).thenThrows('AMOUNT_MISMATCH', /must be 22\.50 USD.*was 20\.00 USD/);
  });

  it('refuses a capture in another currency', () => {
    given(reserved).when(capture('pay-1', { amountMinor: 2250, currency: 'EUR' })).thenThrows('CURRENCY_MISMATCH');
  });
});

describe('shipping', () => {
  it('records the shipment after the capture', () => {
    given(captured).when(ship()).then([shippedEvent]);
  });

  it('does nothing when the same shipment is recorded again', () => {
    given(shipped).when(ship()).then([]);
  });

  it('refuses a shipment before payment', () => {
    given(reserved).when(ship()).thenThrows('INVALID_TRANSITION', /not payment_captured/);
  });

  it('refuses a second, different shipment', () => {
    given(shipped).when(ship('ship-2')).thenThrows('INVALID_TRANSITION');
  });

  it('refuses a shipment without a tracking number', () => {
    given(captured)
      .when({ type: 'RecordShipmentCreated', data: { shipmentId: 'ship-1', carrier: 'UPS', trackingNumber: '' } })
      .thenThrows('INVALID_ARGUMENT', /trackingNumber/);
  });
});

describe('confirming and delivering', () => {
  it('confirms after the shipment', () => {
    given(shipped).when(confirm).then([confirmedEvent]);
  });

  it('refuses to confirm before the shipment', () => {
    given(captured).when(confirm).thenThrows('INVALID_TRANSITION', /not shipment_created/);
  });

  it('does nothing when confirmed again', () => {
    given(confirmed).when(confirm).then([]);
    given(delivered).when(confirm).then([]);
  });

  it('marks a confirmed order delivered', () => {
    given(confirmed).when(deliver).then([deliveredEvent]);
  });

  it('refuses delivery before confirmation', () => {
    given(shipped).when(deliver).thenThrows('INVALID_TRANSITION', /not confirmed/);
  });

  it('does nothing when delivered again', () => {
    given(delivered).when(deliver).then([]);
  });
});
