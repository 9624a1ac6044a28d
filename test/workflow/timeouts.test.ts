import { useWorkflowHarness } from '../support/workflow-harness';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

const elapsedMs = (from: string | null, to: string | null): number => Date.parse(to ?? '') - Date.parse(from ?? '');

describe('order timers at their real defaults (time skipping)', () => {
  const harness = useWorkflowHarness();

  it('cancels a draft left unsubmitted for the default 24 h as draft_expired', async () => {
    const order = await harness.startOrder({ items: [{ sku: 'SKU-BOOK', quantity: 1 }] });
    const started = Date.now();

    const outcome = await order.result();

    expect(outcome).toMatchObject({ status: 'cancelled', cancellationReason: 'draft_expired' });
    expect(order.eventTypes()).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderCancelled']);
    const state = await order.state();
    // Workflow time passed the whole TTL; the test's own clock did not.
    expect(elapsedMs(state.createdAt, state.cancelledAt)).toBeGreaterThanOrEqual(DAY_MS);
    expect(elapsedMs(state.createdAt, state.cancelledAt)).toBeLessThan(DAY_MS + HOUR_MS);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Nothing was reserved, charged or shipped for a draft.
    expect(order.services()).toEqual({ reservations: [], payments: [], shipments: [], notifications: [] });
  });

  it('unwinds shipment, payment and inventory in reverse when no delivery is reported within the default 14 days', async () => {
    const order = await harness.startOrder({ items: [{ sku: 'SKU-MUG', quantity: 2 }], submit: true });
    await order.waitForStatus('confirmed');

    const outcome = await order.result();

    expect(outcome).toMatchObject({ status: 'failed', failure: { step: 'delivery', reason: 'delivery_timeout' } });
    const types = order.eventTypes();
    expect(types.slice(0, 7)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'PaymentCaptured',
      'ShipmentCreated',
      'OrderConfirmed',
    ]);
    expect(types.slice(7)).toEqual(['OrderFailed', 'ShipmentCancelled', 'PaymentRefunded', 'InventoryReleased']);
    const state = await order.state();
    expect(elapsedMs(state.confirmedAt, state.failedAt)).toBeGreaterThanOrEqual(14 * DAY_MS);
    const { reservations, payments, shipments } = order.services();
    expect(shipments).toMatchObject([{ status: 'cancelled', cancelReason: 'delivery_timeout' }]);
    expect(payments).toMatchObject([{ status: 'refunded', refundReason: 'delivery_timeout' }]);
    expect(reservations).toMatchObject([{ status: 'released', releaseReason: 'delivery_timeout' }]);
    expect(harness.doubles.inventory.stock.get('SKU-MUG')).toEqual({ available: 1000, reserved: 0, sold: 0 });
    // The undo ran last step first.
    const undo = harness.doubles.log.calls
      .filter((c) => c.workflowId === order.workflowId && ['cancelShipment', 'refundPayment', 'releaseInventory'].includes(c.activity))
      .map((c) => c.activity);
    expect(undo).toEqual(['cancelShipment', 'refundPayment', 'releaseInventory']);
  });
});
