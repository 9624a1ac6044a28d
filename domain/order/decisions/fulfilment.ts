import { assertMoney, assertSameCurrency, equals, format } from '../../money';
import { AmountMismatchError } from '../../errors';
import type { OrderCommandData } from '../commands';
import type { OrderEvent } from '../events';
import { sortedLines } from '../lines';
import type { OrderState } from '../state';
import { checkReference, checkTimestamp } from '../validate';
import { existingOrder, requireStatus } from './guards';

/*
 * The saga's forward facts, each allowed only right after the previous one. Temporal retries activities,
 * so recording a fact that is already recorded (same reference) yields no events instead of an error.
 */

export function recordInventoryReserved(
  command: OrderCommandData<'RecordInventoryReserved'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  checkReference('reservationId', command.reservationId);
  if (order.reservationId === command.reservationId) return [];
  requireStatus(order, 'submitted', 'record an inventory reservation');
  // The reservation covers exactly the submitted lines: inventory is reserved in full or not at all.
  const items = sortedLines(order.items).map(({ sku, quantity }) => ({ sku, quantity }));
  return [{ type: 'InventoryReserved', data: { orderId: order.orderId, reservationId: command.reservationId, items } }];
}

export function recordPaymentCaptured(
  command: OrderCommandData<'RecordPaymentCaptured'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { paymentId, amount } = command;
  checkReference('paymentId', paymentId);
  assertMoney(amount);
  if (order.paymentId === paymentId) return [];
  requireStatus(order, 'inventory_reserved', 'record a payment capture');
  assertSameCurrency(order.currency, amount);
  if (!equals(amount, order.total)) throw new AmountMismatchError('captured amount', format(order.total), format(amount));
  return [{ type: 'PaymentCaptured', data: { orderId: order.orderId, paymentId, amount } }];
}

export function recordShipmentCreated(
  command: OrderCommandData<'RecordShipmentCreated'>,
  state: OrderState,
): OrderEvent[] {
  const order = existingOrder(state);
  const { shipmentId, carrier, trackingNumber } = command;
  checkReference('shipmentId', shipmentId);
  checkReference('carrier', carrier);
  checkReference('trackingNumber', trackingNumber);
  if (order.shipmentId === shipmentId) return [];
  requireStatus(order, 'payment_captured', 'record a shipment');
  return [{ type: 'ShipmentCreated', data: { orderId: order.orderId, shipmentId, carrier, trackingNumber } }];
}

export function confirmOrder(command: OrderCommandData<'ConfirmOrder'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  if (order.confirmedAt !== null) return [];
  requireStatus(order, 'shipment_created', 'confirm the order');
  checkTimestamp('now', command.now);
  return [{ type: 'OrderConfirmed', data: { orderId: order.orderId, confirmedAt: command.now } }];
}

export function markDelivered(command: OrderCommandData<'MarkDelivered'>, state: OrderState): OrderEvent[] {
  const order = existingOrder(state);
  if (order.deliveredAt !== null) return [];
  requireStatus(order, 'confirmed', 'mark the order delivered');
  checkTimestamp('now', command.now);
  return [{ type: 'OrderDelivered', data: { orderId: order.orderId, deliveredAt: command.now } }];
}
