import { CannotCancelError, InvalidTransitionError } from '../../errors';
import type { OrderCommandData } from '../commands';
import { DRAFT_EXPIRED_REASON, type OrderEvent } from '../events';
import { CANCELLABLE_STATUSES, type CancellableStatus, type OrderState, type OrderStatus } from '../state';
import { checkFailedStep, checkReason, checkTimestamp } from '../validate';
import { existingOrder } from './guards';

/** Rules that end an order early: cancelling it and failing it. */

// Once a shipment exists the goods are on their way, so the order can no longer simply be called off.
const WHY_NOT_CANCELLABLE: Record<Exclude<OrderStatus, CancellableStatus | 'cancelled'>, string> = {
  none: 'it does not exist',
  shipment_created: 'it has already been handed to the carrier',
  confirmed: 'it is already confirmed',
  delivered: 'it has already been delivered',
  failed: 'it has already failed',
  compensation_failed: 'it has already failed',
};

/**
 * Why a cancel request would be refused now, or undefined when it would be taken (a cancelled order
 * takes a repeated cancel as done). The workflow's cancel handlers and the closing decision share it.
 */
export function whyNotCancellable(status: OrderStatus): string | undefined {
  if (status === 'cancelled' || CANCELLABLE_STATUSES.includes(status)) return undefined;
  return WHY_NOT_CANCELLABLE[status as keyof typeof WHY_NOT_CANCELLABLE];
}

const FAILABLE: readonly OrderStatus[] = [
  'submitted',
  'inventory_reserved',
  'payment_captured',
  'shipment_created',
  'compensating',
];

export function cancelOrder(command: OrderCommandData<'CancelOrder'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  if (order.status === 'cancelled') return [];
  const { reason, now, acceptedInStatus } = command;
  // A cancel taken while the shipment was being created still holds once it exists: the shipment is undone.
  const judged = acceptedInStatus !== undefined && order.status === 'shipment_created' ? acceptedInStatus : order.status;
  const why = whyNotCancellable(judged);
  if (why !== undefined) throw new CannotCancelError(order.orderId, order.status, why);
  checkReason(reason);
  checkTimestamp('now', now);
  // The expiry timer can race a submit; an order that left the draft status has not expired.
  if (reason === DRAFT_EXPIRED_REASON && order.status !== 'draft') {
    throw new CannotCancelError(order.orderId, order.status, `only a draft can expire, and it is ${order.status}`);
  }
  return [{ type: 'OrderCancelled', data: { orderId: order.orderId, reason, cancelledAt: now } }];
}

export function failOrder(command: OrderCommandData<'FailOrder'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  if (order.status === 'failed') return [];
  const { reason, failedStep, now } = command;
  // A confirmed order can still fail in one way: its delivery never happened (a lost parcel).
  const lostInDelivery = order.status === 'confirmed' && failedStep === 'delivery';
  if (!FAILABLE.includes(order.status) && !lostInDelivery) {
    const why =
      order.status === 'draft' ? `order ${order.orderId} is a draft, and only a submitted order can fail` : undefined;
    throw new InvalidTransitionError(order.orderId, order.status, 'fail the order', why);
  }
  checkReason(reason);
  checkFailedStep(failedStep);
  checkTimestamp('now', now);
  return [{ type: 'OrderFailed', data: { orderId: order.orderId, reason, failedStep, failedAt: now } }];
}
