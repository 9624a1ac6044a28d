import type { FailedStep, Money, OrderEvent } from '../../../domain';

export const ORDER_ID = 'order-1';
export const CUSTOMER_ID = 'customer-1';
export const T0 = '2025-03-01T10:00:00.000Z';
export const T1 = '2025-03-01T10:05:00.000Z';
export const T2 = '2025-03-02T08:00:00.000Z';

export function usd(amountMinor: number): Money {
  return { amountMinor, currency: 'USD' };
}

export const created: OrderEvent = {
  type: 'OrderCreated',
  data: { orderId: ORDER_ID, customerId: CUSTOMER_ID, currency: 'USD', createdAt: T0 },
};

export function itemAdded(sku: string, quantity: number, unitPrice: Money = usd(1000)): OrderEvent {
  return { type: 'OrderItemAdded', data: { orderId: ORDER_ID, sku, quantity, unitPrice } };
}

/** A draft with SKU-A × 2 at 10.00 and SKU-B × 1 at 2.50: 22.50 USD. */
export const draft: OrderEvent[] = [created, itemAdded('SKU-B', 1, usd(250)), itemAdded('SKU-A', 2, usd(1000))];
export const TOTAL = usd(2250);

export const submittedEvent: OrderEvent = {
  type: 'OrderSubmitted',
  data: {
    orderId: ORDER_ID,
    total: TOTAL,
    items: [
      { sku: 'SKU-A', quantity: 2, unitPrice: usd(1000) },
      { sku: 'SKU-B', quantity: 1, unitPrice: usd(250) },
    ],
    submittedAt: T1,
  },
};

export const reservedEvent: OrderEvent = {
  type: 'InventoryReserved',
  data: {
    orderId: ORDER_ID,
    reservationId: 'res-1',
    items: [
      { sku: 'SKU-A', quantity: 2 },
      { sku: 'SKU-B', quantity: 1 },
    ],
  },
};

export const capturedEvent: OrderEvent = {
  type: 'PaymentCaptured',
  data: { orderId: ORDER_ID, paymentId: 'pay-1', amount: TOTAL },
};

export const shippedEvent: OrderEvent = {
  type: 'ShipmentCreated',
  data: { orderId: ORDER_ID, shipmentId: 'ship-1', carrier: 'UPS', trackingNumber: '1Z999' },
};

export const confirmedEvent: OrderEvent = { type: 'OrderConfirmed', data: { orderId: ORDER_ID, confirmedAt: T2 } };
export const deliveredEvent: OrderEvent = { type: 'OrderDelivered', data: { orderId: ORDER_ID, deliveredAt: T2 } };

export const submitted: OrderEvent[] = [...draft, submittedEvent];
export const reserved: OrderEvent[] = [...submitted, reservedEvent];
export const captured: OrderEvent[] = [...reserved, capturedEvent];
export const shipped: OrderEvent[] = [...captured, shippedEvent];
export const confirmed: OrderEvent[] = [...shipped, confirmedEvent];
export const delivered: OrderEvent[] = [...confirmed, deliveredEvent];

export function released(reason = 'payment_declined'): OrderEvent {
  return { type: 'InventoryReleased', data: { orderId: ORDER_ID, reservationId: 'res-1', reason } };
}

export function refunded(reason = 'shipping_failed'): OrderEvent {
  return { type: 'PaymentRefunded', data: { orderId: ORDER_ID, paymentId: 'pay-1', amount: TOTAL, reason } };
}

export function shipmentCancelled(reason = 'confirmation_failed'): OrderEvent {
  return { type: 'ShipmentCancelled', data: { orderId: ORDER_ID, shipmentId: 'ship-1', reason } };
}

export function cancelled(reason = 'customer_request'): OrderEvent {
  return { type: 'OrderCancelled', data: { orderId: ORDER_ID, reason, cancelledAt: T2 } };
}

export function failed(reason = 'card declined', failedStep: FailedStep = 'payment'): OrderEvent {
  return { type: 'OrderFailed', data: { orderId: ORDER_ID, reason, failedStep, failedAt: T2 } };
}
