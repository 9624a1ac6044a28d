import { DRAFT_EXPIRED_REASON, type FailedStep, type OrderCommand } from '../../../domain';
import { given } from './given-when-then';
import {
  cancelled,
  captured,
  confirmed,
  created,
  delivered,
  draft,
  failed,
  ORDER_ID,
  refunded,
  released,
  reserved,
  shipmentCancelled,
  shipped,
  submitted,
  T2,
  TOTAL,
  usd,
} from './fixtures';

const release = (reservationId = 'res-1', reason = 'payment_declined'): OrderCommand => ({
  type: 'RecordInventoryReleased',
  data: { reservationId, reason },
});
const refund = (paymentId = 'pay-1', amount = TOTAL, reason = 'shipping_failed'): OrderCommand => ({
  type: 'RecordPaymentRefunded',
  data: { paymentId, amount, reason },
});
const cancelShipment = (shipmentId = 'ship-1', reason = 'confirmation_failed'): OrderCommand => ({
  type: 'RecordShipmentCancelled',
  data: { shipmentId, reason },
});
const cancel = (reason = 'customer_request'): OrderCommand => ({ type: 'CancelOrder', data: { reason, now: T2 } });
const fail = (reason = 'card declined', failedStep: FailedStep = 'payment'): OrderCommand => ({
  type: 'FailOrder',
  data: { reason, failedStep, now: T2 },
});

describe('compensating', () => {
  it('releases the reservation when payment fails', () => {
    given(reserved).when(release()).then([released()]);
  });

  it('refunds the payment, then releases the inventory, when shipping fails', () => {
    given(captured).when(refund()).then([refunded()]);
    given([...captured, refunded()]).when(release('res-1', 'shipping_failed')).then([released('shipping_failed')]);
  });

  it('cancels the shipment when confirmation fails', () => {
    given(shipped).when(cancelShipment()).then([shipmentCancelled()]);
  });

  it('finishes compensating after the order was cancelled or failed', () => {
    given([...captured, cancelled()]).when(refund()).then([refunded()]);
    given([...reserved, failed()]).when(release()).then([released()]);
  });

  it('does nothing when a compensation is recorded again', () => {
    given([...reserved, released()]).when(release()).then([]);
    given([...captured, refunded()]).when(refund()).then([]);
    given([...shipped, shipmentCancelled()]).when(cancelShipment()).then([]);
  });

  it('refuses to undo a step that never happened', () => {
    given(submitted).when(release()).thenThrows('INVALID_TRANSITION', /holds no inventory reservation/);
    given(reserved).when(refund()).thenThrows('INVALID_TRANSITION', /holds no payment/);
    given(captured).when(cancelShipment()).thenThrows('INVALID_TRANSITION', /holds no shipment/);
  });

  it('refuses to undo another reference than the one held', () => {
    given(reserved).when(release('res-9')).thenThrows('INVALID_TRANSITION', /holds inventory reservation res-1, not res-9/);
  });

  it('refuses partial or foreign-currency refunds', () => {
    given(captured).when(refund('pay-1', usd(100))).thenThrows('AMOUNT_MISMATCH');
    given(captured).when(refund('pay-1', { amountMinor: 2250, currency: 'EUR' })).thenThrows('CURRENCY_MISMATCH');
  });

  it('refuses to compensate a confirmed order', () => {
    given(confirmed).when(cancelShipment()).thenThrows('INVALID_TRANSITION', /is confirmed/);
    given(delivered).when(refund()).thenThrows('INVALID_TRANSITION', /is delivered/);
  });

  it('refuses a compensation without a reason', () => {
    given(reserved).when(release('res-1', ' ')).thenThrows('INVALID_ARGUMENT', /reason/);
  });

  it('refuses forward steps while unwinding', () => {
    given([...captured, refunded()])
      .when({ type: 'RecordShipmentCreated', data: { shipmentId: 'ship-1', carrier: 'UPS', trackingNumber: '1Z' } })
      .thenThrows('INVALID_TRANSITION', /is compensating/);
    given([...shipped, shipmentCancelled()]).when({ type: 'ConfirmOrder', data: { now: T2 } }).thenThrows('INVALID_TRANSITION');
  });
});

describe('cancelling', () => {
  it.each([
    ['a draft', draft],
    ['a submitted order', submitted],
    ['an order with reserved inventory', reserved],
    ['an order with a captured payment', captured],
    ['an order being compensated', [...reserved, released()]],
  ])('cancels %s', (_, history) => {
    given(history).when(cancel()).then([cancelled()]);
  });

  it('does nothing when the cancellation is retried', () => {
    given([...draft, cancelled()]).when(cancel()).then([]);
    given([...draft, cancelled()]).when(cancel('another reason')).then([]);
  });

  it('refuses once the shipment is created', () => {
    given(shipped).when(cancel()).thenThrows('CANNOT_CANCEL', /handed to the carrier/);
  });

  it.each([
    ['confirmed', confirmed, /already confirmed/],
    ['delivered', delivered, /already been delivered/],
    ['failed', [...submitted, failed()], /already failed/],
  ])('refuses a %s order', (_, history, message) => {
    given(history).when(cancel()).thenThrows('CANNOT_CANCEL', message);
  });

  it('expires a draft with the draft_expired reason', () => {
    given(draft).when(cancel(DRAFT_EXPIRED_REASON)).then([cancelled(DRAFT_EXPIRED_REASON)]);
    given([created]).when(cancel(DRAFT_EXPIRED_REASON)).then([cancelled(DRAFT_EXPIRED_REASON)]);
  });

  it('does not expire an order that was submitted before the timer fired', () => {
    given(submitted).when(cancel(DRAFT_EXPIRED_REASON)).thenThrows('CANNOT_CANCEL', /only a draft can expire/);
  });

  it('refuses an order that does not exist', () => {
    given([]).when(cancel()).thenThrows('ORDER_NOT_FOUND');
  });

  it('refuses a blank reason', () => {
    given(draft).when(cancel('')).thenThrows('INVALID_ARGUMENT', /reason/);
  });
});

describe('failing', () => {
  it.each([
    ['submitted', submitted],
    ['inventory_reserved', reserved],
    ['payment_captured', captured],
    ['shipment_created', shipped],
    ['compensating', [...reserved, released()]],
  ])('fails a %s order', (_, history) => {
    given(history).when(fail()).then([failed()]);
  });

  it('records which step failed', () => {
    given(shipped).when(fail('carrier down', 'shipment')).then([failed('carrier down', 'shipment')]);
  });

  it('does nothing when the failure is recorded again', () => {
    given([...submitted, failed()]).when(fail()).then([]);
  });

  it('refuses to fail a draft, which has no saga yet', () => {
    given(draft).when(fail()).thenThrows('INVALID_TRANSITION', /is a draft/);
  });

  it.each([
    ['confirmed', confirmed],
    ['delivered', delivered],
    ['cancelled', [...draft, cancelled()]],
  ])('refuses to fail a %s order', (_, history) => {
    given(history).when(fail()).thenThrows('INVALID_TRANSITION');
  });

  it('fails a confirmed order whose delivery never happened, and then lets it be compensated', () => {
    given(confirmed).when(fail('no delivery in time', 'delivery')).then([failed('no delivery in time', 'delivery')]);
    given([...confirmed, failed('no delivery in time', 'delivery')])
      .when(cancelShipment('ship-1', 'delivery_timeout'))
      .then([shipmentCancelled('delivery_timeout')]);
  });

  it('refuses to fail a confirmed order for any other step', () => {
    given(confirmed).when(fail('x', 'payment')).thenThrows('INVALID_TRANSITION');
  });

  it('refuses an unknown step', () => {
    given(submitted)
      .when({ type: 'FailOrder', data: { reason: 'x', failedStep: 'billing' as FailedStep, now: T2 } })
      .thenThrows('INVALID_ARGUMENT', /failedStep: one of inventory, payment/);
  });

  it('names the order in its errors', () => {
    given(draft).when(fail()).thenThrows('INVALID_TRANSITION', new RegExp(ORDER_ID));
  });
});
