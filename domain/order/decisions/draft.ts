import { assertMoney, assertSameCurrency, equals, format, isCurrencyCode } from '../../money';
import {
  InvalidArgumentError,
  InvalidQuantityError,
  ItemNotFoundError,
  OrderAlreadyExistsError,
  OrderEmptyError,
  PriceMismatchError,
} from '../../errors';
import type { OrderCommandData } from '../commands';
import type { OrderEvent } from '../events';
import { findLine, linesTotal, sortedLines, type OrderLine } from '../lines';
import type { OrderState } from '../state';
import { checkOrderId, checkQuantity, checkReference, checkSku, checkTimestamp, MAX_QUANTITY_PER_SKU } from '../validate';
import { existingOrder, requireDraft } from './guards';

/** Rules of a draft: creating the order and changing its items until it is submitted. */

export function createOrder(command: OrderCommandData<'CreateOrder'>, state: OrderState): OrderEvent[] {
  const { orderId, customerId, currency, now } = command;
  checkOrderId(orderId);
  checkReference('customerId', customerId);
  if (!isCurrencyCode(currency)) {
    throw new InvalidArgumentError('currency', 'an ISO 4217 code of 3 upper-case letters, such as "USD"');
  }
  checkTimestamp('now', now);
  if (state.status !== 'none') {
    // The same creation arriving again (a retry) is a no-op; anything else is a clash of ids.
    const same = state.orderId === orderId && state.customerId === customerId && state.currency === currency;
    if (same) return [];
    throw new OrderAlreadyExistsError(orderId);
  }
  return [{ type: 'OrderCreated', data: { orderId, customerId, currency, createdAt: now } }];
}

// Adding is not idempotent (twice means two more units), so callers that retry must dedupe by command id.
export function addItem(command: OrderCommandData<'AddItem'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  requireDraft(order);
  const { sku, quantity, unitPrice } = command;
  checkSku(sku);
  checkQuantity(quantity);
  assertMoney(unitPrice);
  assertSameCurrency(order.currency, unitPrice);

  const existing = findLine(order.items, sku);
  if (existing && !equals(existing.unitPrice, unitPrice)) {
    throw new PriceMismatchError(sku, format(existing.unitPrice), format(unitPrice));
  }
  const line: OrderLine = { sku, quantity: (existing?.quantity ?? 0) + quantity, unitPrice };
  if (line.quantity > MAX_QUANTITY_PER_SKU) {
    throw InvalidQuantityError.lineTooLarge(sku, line.quantity, MAX_QUANTITY_PER_SKU);
  }
  // Throws when the new total would no longer be an exact integer, before that becomes a stored fact.
  linesTotal(order.currency, { ...order.items, [sku]: line });

  return [{ type: 'OrderItemAdded', data: { orderId: order.orderId, sku, quantity, unitPrice } }];
}

export function removeItem(command: OrderCommandData<'RemoveItem'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  requireDraft(order);
  if (!findLine(order.items, command.sku)) throw new ItemNotFoundError(order.orderId, command.sku);
  return [{ type: 'OrderItemRemoved', data: { orderId: order.orderId, sku: command.sku } }];
}

export function submitOrder(command: OrderCommandData<'SubmitOrder'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  // Only a retry can find the order exactly submitted: later statuses mean someone submitted it long ago.
  if (order.status === 'submitted') return [];
  requireDraft(order);
  checkTimestamp('now', command.now);
  const items = sortedLines(order.items);
  if (items.length === 0) throw new OrderEmptyError(order.orderId);
  return [
    {
      type: 'OrderSubmitted',
      data: { orderId: order.orderId, total: linesTotal(order.currency, order.items), items, submittedAt: command.now },
    },
  ];
}
