import {
  CANCELLABLE_STATUSES,
  ORDER_STATUSES,
  evolve,
  isStorableText,
  orderStateFrom,
  sagaProgress,
  toStorableText,
  whyNotCancellable,
  type OrderCommand,
  type OrderEvent,
} from '../../../domain';
import { given } from './given-when-then';
import { cancelled, captured, confirmed, draft, failed, ORDER_ID, refunded, released, reserved, shipped, T2 } from './fixtures';

const compensationFailed = (step: 'inventory' | 'payment' | 'shipment', reason = 'ShipmentDelivered: delivered'): OrderEvent => ({
  type: 'CompensationFailed',
  data: { orderId: ORDER_ID, step, reason, failedAt: T2 },
});
const undoFailed = (step: 'inventory' | 'payment' | 'shipment', reason = 'ShipmentDelivered: delivered'): OrderCommand => ({
  type: 'RecordCompensationFailed',
  data: { step, reason, now: T2 },
});

describe('a cancel taken while the shipment was being created', () => {
  const cancel = (acceptedInStatus?: 'payment_captured' | 'confirmed'): OrderCommand => ({
    type: 'CancelOrder',
    data: { reason: 'customer_request', now: T2, ...(acceptedInStatus ? { acceptedInStatus } : {}) },
  });

  it('still cancels once the shipment exists', () => {
    given(shipped)
      .when(cancel('payment_captured'))
      .then([{ type: 'OrderCancelled', data: { orderId: ORDER_ID, reason: 'customer_request', cancelledAt: T2 } }]);
  });

  it('is refused without the status it was taken in, or when that status was not cancellable', () => {
    given(shipped).when(cancel()).thenThrows('CANNOT_CANCEL', /handed to the carrier/);
    given(shipped).when(cancel('confirmed')).thenThrows('CANNOT_CANCEL');
  });

  it('does not reach past the shipment: a confirmed order stays uncancellable', () => {
    given(confirmed).when(cancel('payment_captured')).thenThrows('CANNOT_CANCEL', /confirmed/);
  });
});

describe('an undo that cannot be done', () => {
  it('is recorded for a step the unwinding order still holds', () => {
    given([...shipped, failed('delivery_timeout', 'delivery')])
      .when(undoFailed('shipment'))
      .then([compensationFailed('shipment')]);
  });

  it('leaves the order compensation_failed, holding the step, while the other undos still record', () => {
    const state = orderStateFrom([...shipped, cancelled(), compensationFailed('shipment'), refunded('customer_request'), released('customer_request')]);
    expect(state).toMatchObject({
      status: 'compensation_failed',
      shipmentId: 'ship-1',
      paymentId: null,
      reservationId: null,
      unsettled: ['shipment'],
      cancellationReason: 'customer_request',
      failure: { step: 'compensation', reason: 'shipment: ShipmentDelivered: delivered' },
    });
    expect(sagaProgress(state)).toMatchObject({ awaitingCompensation: [], unsettled: ['shipment'] });
  });

  it('is recorded once, and only while the order is being unwound', () => {
    const recorded = [...captured, cancelled(), compensationFailed('payment')];
    given(recorded).when(undoFailed('payment')).then([]);
    given(captured).when(undoFailed('payment')).thenThrows('INVALID_TRANSITION', /being unwound/);
  });

  it('is recorded for a step the log never held: its service may have done it unseen', () => {
    given([...reserved, failed()]).when(undoFailed('payment', 'PaymentVoided: x')).then([compensationFailed('payment', 'PaymentVoided: x')]);
    expect(orderStateFrom([...reserved, failed(), compensationFailed('payment')])).toMatchObject({ status: 'compensation_failed', unsettled: ['payment'] });
  });

  it('refuses a cancel of the order afterwards', () => {
    given([...captured, failed(), compensationFailed('payment')])
      .when({ type: 'CancelOrder', data: { reason: 'customer_request', now: T2 } })
      .thenThrows('CANNOT_CANCEL');
  });
});

describe('text that Postgres cannot store', () => {
  it.each([
    ['a NUL', 'a\u0000b'],
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', 'x\udc00y'],
    ['a control character', 'line\u0007bell'],
    ['a newline', 'two\nlines'],
    ['a C1 control', 'a\u0085b'],
  ])('is refused in a reason: %s', (_, reason) => {
    expect(isStorableText(reason)).toBe(false);
    given(draft).when({ type: 'CancelOrder', data: { reason, now: T2 } }).thenThrows('INVALID_ARGUMENT', /reason/);
  });

  it('is refused in a reference', () => {
    given(draft)
      .when({ type: 'CreateOrder', data: { orderId: 'o-2', customerId: 'c\u0000', currency: 'USD', now: T2 } })
      .thenThrows('INVALID_ARGUMENT', /customerId/);
  });

  it('accepts paired surrogates (emoji) and other non-ASCII text', () => {
    expect(isStorableText('changed my mind 😀 — über')).toBe(true);
    given(draft).when({ type: 'CancelOrder', data: { reason: 'changed my mind 😀', now: T2 } }).then([
      { type: 'OrderCancelled', data: { orderId: ORDER_ID, reason: 'changed my mind 😀', cancelledAt: T2 } },
    ]);
  });

  it('is made storable by toStorableText, within the length, never splitting a pair', () => {
    expect(toStorableText('bad\u0000 text\ud800\n here', 100)).toBe('bad text here');
    expect(toStorableText('\u0000\u0001', 10, 'fallback')).toBe('fallback');
    const cut = toStorableText('😀'.repeat(20), 9);
    expect(cut.length).toBeLessThanOrEqual(9);
    expect(isStorableText(cut)).toBe(true);
  });
});

describe('cancellability', () => {
  it('is one rule: the listed statuses and an already cancelled order take a cancel, no other does', () => {
    for (const status of ORDER_STATUSES) {
      const takes = CANCELLABLE_STATUSES.includes(status) || status === 'cancelled';
      expect([status, whyNotCancellable(status) === undefined]).toEqual([status, takes]);
    }
  });

  it('evolves a late compensation after compensation_failed without leaving that status', () => {
    const state = [compensationFailed('shipment')].reduce(evolve, orderStateFrom([...shipped, cancelled()]));
    expect(evolve(state, refunded()).status).toBe('compensation_failed');
  });
});
