import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { useWorkflowHarness, type OrderDriver } from '../support/workflow-harness';

/** The refusal's domain code, from a failed update. */
async function refusalOf(result: Promise<unknown>): Promise<string | undefined> {
  const err = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowUpdateFailedError)) throw new Error(`expected a failed update, got ${String(err)}`);
  return err.cause instanceof ApplicationFailure ? err.cause.type ?? undefined : undefined;
}

describe('checkout in one call (Update-with-Start, time skipping)', () => {
  const harness = useWorkflowHarness();
  const appends = (order: OrderDriver): number =>
    harness.doubles.log.calls.filter((c) => c.workflowId === order.workflowId && c.activity === 'appendOrderEvents').length;
  const appendInputs = (order: OrderDriver): { expectedVersion: number; types: string[] }[] =>
    harness.doubles.log.calls
      .filter((c) => c.workflowId === order.workflowId && c.activity === 'appendOrderEvents')
      .map((c) => {
        const input = c.input as { expectedVersion: number; events: { type: string }[] };
        return { expectedVersion: input.expectedVersion, types: input.events.map((e) => e.type) };
      });
  const lookups = (order: OrderDriver): string[] =>
    harness.doubles.log.calls.filter((c) => c.workflowId === order.workflowId && c.activity === 'getProduct').map((c) => c.activity);

  it('creates, fills and submits the order in one append, then runs the saga', async () => {
    const { order, result } = await harness.checkout({
      lines: [
        { sku: 'SKU-BOOK', quantity: 2 },
        { sku: 'SKU-MUG', quantity: 1 },
        { sku: 'SKU-BOOK', quantity: 1 },
      ],
      submit: true,
    });

    const snapshot = await result;

    expect(snapshot).toMatchObject({ orderId: order.orderId, status: 'submitted', version: 5, total: { amountMinor: 3 * 1999 + 850, currency: 'USD' } });
    expect(snapshot.items).toEqual([
      { sku: 'SKU-BOOK', quantity: 3, unitPrice: { amountMinor: 1999, currency: 'USD' } },
      { sku: 'SKU-MUG', quantity: 1, unitPrice: { amountMinor: 850, currency: 'USD' } },
    ]);
    expect(order.eventTypes().slice(0, 5)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderItemAdded', 'OrderSubmitted']);
    // One look-up per distinct SKU; the creation, lines and submit in the first append.
    expect(lookups(order)).toHaveLength(2);
    expect(appendInputs(order)[0]).toEqual({
      expectedVersion: 0,
      types: ['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderItemAdded', 'OrderSubmitted'],
    });
    await order.waitForStatus('confirmed');
    expect(appends(order)).toBe(1 + 3 + 1); // checkout; reserved, captured, shipped; confirmed
    await order.delivered();
    await expect(order.result()).resolves.toMatchObject({ status: 'delivered' });
  });

  it.each([
    ['an unknown SKU', { lines: [{ sku: 'SKU-BOOK', quantity: 1 }, { sku: 'SKU-NOPE', quantity: 1 }], submit: true }, 'UNKNOWN_SKU'],
    ['lines of one SKU above the limit', { lines: [{ sku: 'SKU-PEN', quantity: 600 }, { sku: 'SKU-PEN', quantity: 600 }], submit: true }, 'INVALID_QUANTITY'],
    ['a submit without lines', { lines: [], submit: true }, 'ORDER_EMPTY'],
  ])('refuses %s, records nothing and ends at once', async (_, checkout, code) => {
    const { order, result } = await harness.checkout(checkout);

    expect(await refusalOf(result)).toBe(code);
    const outcome = await order.result();

    expect(outcome).toMatchObject({ orderId: order.orderId, status: 'none', version: 0, failure: { step: 'checkout', reason: `checkout_refused: ${code}` } });
    expect(order.events()).toEqual([]);
    expect(appends(order)).toBe(0);
    expect(order.services()).toEqual({ reservations: [], payments: [], shipments: [], notifications: [] });
  });

  it('refuses prices in another currency than the order', async () => {
    const { order, result } = await harness.checkout({ lines: [{ sku: 'SKU-BOOK', quantity: 1 }], submit: true }, { input: { currency: 'EUR' } });

    expect(await refusalOf(result)).toBe('CURRENCY_MISMATCH');
    await expect(order.result()).resolves.toMatchObject({ status: 'none' });
    expect(order.events()).toEqual([]);
  });

  it('answers a repeated update id with the first answer, recording nothing twice', async () => {
    const checkout = { lines: [{ sku: 'SKU-PEN', quantity: 4 }], submit: false };
    const first = await harness.checkout(checkout, { updateId: 'checkout-1' });
    const snapshot = await first.result;
    const again = await harness.checkout(checkout, { orderId: first.order.orderId, updateId: 'checkout-1' });

    await expect(again.result).resolves.toEqual(snapshot);
    expect(snapshot).toMatchObject({ status: 'draft', version: 2, items: [{ sku: 'SKU-PEN', quantity: 4 }] });
    expect(first.order.eventTypes()).toEqual(['OrderCreated', 'OrderItemAdded']);
    expect(appends(first.order)).toBe(1);
  });

  it('fills and submits an existing draft in one append', async () => {
    const order = await harness.startOrder({ items: [{ sku: 'SKU-MUG', quantity: 1 }] });

    const snapshot = await order.checkout({ lines: [{ sku: 'SKU-BOOK', quantity: 1 }, { sku: 'SKU-MUG', quantity: 2 }], submit: true });

    expect(snapshot).toMatchObject({ status: 'submitted', version: 5, total: { amountMinor: 1999 + 3 * 850 } });
    expect(order.eventTypes().slice(0, 5)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderItemAdded', 'OrderItemAdded', 'OrderSubmitted']);
    // Two appends made the draft; the third holds the checkout's three events.
    expect(appendInputs(order).slice(0, 3)).toEqual([
      { expectedVersion: 0, types: ['OrderCreated'] },
      { expectedVersion: 1, types: ['OrderItemAdded'] },
      { expectedVersion: 2, types: ['OrderItemAdded', 'OrderItemAdded', 'OrderSubmitted'] },
    ]);
    await order.waitForStatus('confirmed');
  });

  it('refuses a checkout on a submitted order, leaving it as it was', async () => {
    const order = await harness.startOrder({ items: [{ sku: 'SKU-MUG', quantity: 1 }], submit: true });

    expect(await refusalOf(order.checkout({ lines: [{ sku: 'SKU-BOOK', quantity: 1 }] }))).toBe('ORDER_NOT_DRAFT');
    expect((await order.state()).items).toEqual({ 'SKU-MUG': { sku: 'SKU-MUG', quantity: 1, unitPrice: { amountMinor: 850, currency: 'USD' } } });
    // No activity left outstanding: the test server skips no time while one is (the last test needs it).
    await order.waitForStatus('confirmed');
  });

  it('ends with nothing recorded when no checkout arrives within the draft TTL', async () => {
    const order = await harness.startOrder({ createdByCheckout: true, draftTtlMs: 60_000 });

    await expect(order.result()).resolves.toMatchObject({ status: 'none', failure: { step: 'checkout', reason: 'no_checkout' } });
    expect(order.events()).toEqual([]);
  });
});
