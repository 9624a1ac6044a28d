import { assertMoney, assertSameCurrency, equals, format } from '../../money';
import { AmountMismatchError, InvalidArgumentError, InvalidTransitionError } from '../../errors';
import type { OrderCommandData } from '../commands';
import type { OrderEvent } from '../events';
import { UNWINDING_STATUSES, type OrderState } from '../state';
import { COMPENSABLE_STEPS, type CompensableStep } from '../steps';
import { checkReason, checkReference, checkTimestamp } from '../validate';
import { existingOrder, type ExistingOrder } from './guards';

/*
 * Facts of undoing a saga step. They are accepted whenever the step's reference is still held, also after
 * the order was cancelled or failed, because the saga may decide the outcome first and clean up after.
 * A confirmed order is complete: taking it back is a return, not a compensation.
 */

const HELD: Record<CompensableStep, { field: 'reservationId' | 'paymentId' | 'shipmentId'; noun: string }> = {
  inventory: { field: 'reservationId', noun: 'inventory reservation' },
  payment: { field: 'paymentId', noun: 'payment' },
  shipment: { field: 'shipmentId', noun: 'shipment' },
};

/** False when the step was already compensated (a retry); throws when this reference cannot be undone now. */
function mustCompensate(order: ExistingOrder, step: CompensableStep, reference: string, action: string): boolean {
  const held = order[HELD[step].field];
  if (held === null && order.compensated[step]) return false;
  if (order.status === 'confirmed' || order.status === 'delivered') {
    throw new InvalidTransitionError(order.orderId, order.status, action);
  }
  if (held !== reference) {
    const { noun } = HELD[step];
    const why =
      held === null
        ? `order ${order.orderId} holds no ${noun}`
        : `order ${order.orderId} holds ${noun} ${held}, not ${reference}`;
    throw new InvalidTransitionError(order.orderId, order.status, action, why);
  }
  return true;
}

export function recordInventoryReleased(
  command: OrderCommandData<'RecordInventoryReleased'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { reservationId, reason } = command;
  checkReference('reservationId', reservationId);
  checkReason(reason);
  if (!mustCompensate(order, 'inventory', reservationId, 'release the inventory reservation')) return [];
  return [{ type: 'InventoryReleased', data: { orderId: order.orderId, reservationId, reason } }];
}

export function recordPaymentRefunded(
  command: OrderCommandData<'RecordPaymentRefunded'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { paymentId, amount, reason } = command;
  checkReference('paymentId', paymentId);
  assertMoney(amount);
  checkReason(reason);
  if (!mustCompensate(order, 'payment', paymentId, 'record a refund')) return [];
  // Only full refunds exist: the captured amount is the order's total, so that is what goes back.
  assertSameCurrency(order.currency, amount);
  if (!equals(amount, order.total)) throw new AmountMismatchError('refunded amount', format(order.total), format(amount));
  return [{ type: 'PaymentRefunded', data: { orderId: order.orderId, paymentId, amount, reason } }];
}

export function recordShipmentCancelled(
  command: OrderCommandData<'RecordShipmentCancelled'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { shipmentId, reason } = command;
  checkReference('shipmentId', shipmentId);
  checkReason(reason);
  if (!mustCompensate(order, 'shipment', shipmentId, 'cancel the shipment')) return [];
  return [{ type: 'ShipmentCancelled', data: { orderId: order.orderId, shipmentId, reason } }];
}

/**
 * An undo that cannot be done (the goods were delivered, the reservation was sold) is a fact too: the
 * order records which step may still hold something, so that an operator can find it and settle it.
 */
export function recordCompensationFailed(
  command: OrderCommandData<'RecordCompensationFailed'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { step, reason, now } = command;
  if (!(COMPENSABLE_STEPS as readonly unknown[]).includes(step)) {
    throw new InvalidArgumentError('step', `one of ${COMPENSABLE_STEPS.join(', ')}`);
  }
  checkReason(reason);
  checkTimestamp('now', now);
  if (order.unsettled.includes(step)) return [];
  if (!UNWINDING_STATUSES.includes(order.status)) {
    const why = `order ${order.orderId} is ${order.status}, and only an order being unwound has undos that can fail`;
    throw new InvalidTransitionError(order.orderId, order.status, 'record a failed compensation', why);
  }
  // Also for a step the log does not hold: its service may have done it while the activity reported
  // cancelled, and an undo that cannot be done is exactly what an operator must look at.
  return [{ type: 'CompensationFailed', data: { orderId: order.orderId, step, reason, failedAt: now } }];
}
