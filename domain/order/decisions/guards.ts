import type { Money } from '../../money';
import { InvalidTransitionError, OrderNotDraftError, OrderNotFoundError } from '../../errors';
import type { OrderState, OrderStatus } from '../state';

/** An order that has been created: the fields OrderCreated sets are known. */
export type ExistingOrder = OrderState & {
  readonly orderId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly total: Money;
};

export function existingOrder(state: OrderState): ExistingOrder {
  const { orderId, customerId, currency, total } = state;
  if (state.status === 'none' || orderId === null || customerId === null || currency === null || total === null) {
    throw new OrderNotFoundError(orderId ?? undefined);
  }
  return { ...state, orderId, customerId, currency, total };
}

export function requireDraft(order: ExistingOrder): void {
  if (order.status !== 'draft') throw new OrderNotDraftError(order.orderId, order.status);
}

export function requireStatus(order: ExistingOrder, expected: OrderStatus, action: string): void {
  if (order.status !== expected) {
    const why = `order ${order.orderId} is ${order.status}, not ${expected}`;
    throw new InvalidTransitionError(order.orderId, order.status, action, why);
  }
}
