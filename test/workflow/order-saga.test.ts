import { randomUUID } from 'node:crypto';
import { Gate, faults } from '../support/workflow-doubles';
import { useWorkflowHarness } from '../support/workflow-harness';

const BOOK_PRICE = 1999;

describe('order saga (time-skipping server, activity doubles)', () => {
  const harness = useWorkflowHarness();

  it('runs an order to delivered: every step stored in order, every service left done', async () => {
    const order = await harness.startOrder({ items: [{ sku: 'SKU-BOOK', quantity: 2 }], submit: true });
    await order.waitForStatus('confirmed');
    await order.delivered();

    const outcome = await order.result();

    expect(outcome).toMatchObject({ status: 'delivered', failure: null, total: { amountMinor: 2 * BOOK_PRICE, currency: 'USD' } });
    expect(order.eventTypes()).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'PaymentCaptured',
      'ShipmentCreated',
      'OrderConfirmed',
      'OrderDelivered',
    ]);
    expect(order.events().map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const { reservations, payments, shipments, notifications } = order.services();
    expect(reservations).toMatchObject([{ orderId: order.orderId, status: 'committed', items: [{ sku: 'SKU-BOOK', quantity: 2 }] }]);
    expect(harness.doubles.inventory.stock.get('SKU-BOOK')).toEqual({ available: 998, reserved: 0, sold: 2 });
    expect(payments).toMatchObject([{ orderId: order.orderId, status: 'captured', amount: { amountMinor: 2 * BOOK_PRICE, currency: 'USD' } }]);
    expect(shipments).toMatchObject([{ orderId: order.orderId, status: 'delivered' }]);
    expect(notifications).toMatchObject([{ orderId: order.orderId, trackingNumber: shipments[0]?.trackingNumber }]);
  });

  it('fails at payment when the card is declined, and releases the reservation', async () => {
    harness.doubles.payments.setPayer('customer-declined', 'decline');
    const order = await harness.startOrder({
      customerId: 'customer-declined',
      items: [{ sku: 'SKU-MUG', quantity: 3 }],
      submit: true,
    });

    const outcome = await order.result();

    expect(outcome.status).toBe('failed');
    expect(outcome.failure).toEqual({ step: 'payment', reason: expect.stringMatching(/^PaymentDeclined: /) });
    expect(order.eventTypes()).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'OrderFailed',
      'InventoryReleased',
    ]);
    const { reservations, payments, shipments } = order.services();
    expect(reservations).toMatchObject([{ status: 'released' }]);
    expect(harness.doubles.inventory.stock.get('SKU-MUG')).toEqual({ available: 1000, reserved: 0, sold: 0 });
    // The refund registered before the capture still ran: it left a tombstone that no late capture gets past.
    expect(payments).toMatchObject([{ status: 'voided', amount: null }]);
    expect(shipments).toEqual([]);
    // A business failure is not retried.
    expect(harness.doubles.log.of('capturePayment', order.workflowId)).toHaveLength(1);
  });

  it('delivers when capturePayment fails twice with a retryable error, charging once', async () => {
    harness.faults.failFirst('capturePayment', 2, faults.retryable('card network unreachable'));
    const order = await harness.startOrder({ items: [{ sku: 'SKU-PEN', quantity: 1 }], submit: true });
    await order.waitForStatus('confirmed');
    await order.delivered();

    const outcome = await order.result();

    expect(outcome.status).toBe('delivered');
    const captures = harness.doubles.log.of('capturePayment', order.workflowId);
    expect(captures.map((c) => [c.attempt, c.outcome])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'completed'],
    ]);
    expect(order.eventTypes().filter((type) => type === 'PaymentCaptured')).toHaveLength(1);
    expect(order.services().payments).toMatchObject([{ status: 'captured', amount: { amountMinor: 199 } }]);
  });

  it('cancels while the capture is in flight: the capture never lands, the reservation is released', async () => {
    const gate = new Gate();
    harness.faults.inject({ activity: 'capturePayment', fault: faults.gate(gate) });
    const order = await harness.startOrder({ items: [{ sku: 'SKU-BOOK', quantity: 1 }], submit: true });
    await gate.entered;

    await order.cancel('changed my mind');
    const outcome = await order.result();

    expect(outcome).toMatchObject({ status: 'cancelled', cancellationReason: 'changed my mind' });
    expect(order.eventTypes()).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'OrderCancelled',
      'InventoryReleased',
    ]);
    expect(order.services().payments).toMatchObject([{ status: 'voided' }]);
    expect(order.services().reservations).toMatchObject([{ status: 'released' }]);
    // The gate was never opened: the capture ended, cancelled (CANCELLED, or NOT_FOUND once the
    // workflow had finished), before it charged.
    expect(gate.isReleased).toBe(false);
    await harness.doubles.log.idle();
    expect(harness.doubles.log.of('capturePayment', order.workflowId)).toMatchObject([{ outcome: 'failed' }]);
    expect(order.services().payments).toMatchObject([{ status: 'voided' }]);
  });

  it('takes over what a lost workflow task appended: events its local append wrote with another clock', async () => {
    // A worker that died after its local activity appended, or a task the server refused to complete,
    // leaves events in the store that the workflow's history does not know; its next task decides the
    // same commands again with a new clock. Here the store already holds the creation and a line.
    const orderId = `o-${randomUUID()}`;
    const earlier = '2026-01-01T00:00:00.000Z';
    await harness.doubles.eventStore.appendOrderEvents({
      orderId,
      expectedVersion: 0,
      events: [
        { type: 'OrderCreated', data: { orderId, customerId: 'customer-1', currency: 'USD', createdAt: earlier } },
        { type: 'OrderItemAdded', data: { orderId, sku: 'SKU-BOOK', quantity: 1, unitPrice: { amountMinor: BOOK_PRICE, currency: 'USD' } } },
      ],
    });
    const order = await harness.startOrder({ orderId });
    // The workflow adopted both events: its view is the store's, and its next append goes after them.
    expect(await order.addItem('SKU-BOOK', 1)).toMatchObject({ version: 3, items: [{ sku: 'SKU-BOOK', quantity: 2 }] });
    await order.submit();
    await order.waitForStatus('confirmed');
    await order.delivered();
    expect(await order.result()).toMatchObject({ status: 'delivered', total: { amountMinor: 2 * BOOK_PRICE, currency: 'USD' } });
    expect(order.events()[0]).toMatchObject({ type: 'OrderCreated', data: { createdAt: earlier } });
    expect(order.eventTypes().filter((type) => type === 'OrderCreated')).toHaveLength(1);
    expect(order.services().payments).toMatchObject([{ status: 'captured', amount: { amountMinor: 2 * BOOK_PRICE, currency: 'USD' } }]);
  });
});
