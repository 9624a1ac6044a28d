import { spawn, type ChildProcess } from 'node:child_process';
import type { Knex } from 'knex';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { openTestDatabase } from '../../support/postgres';
import { REPO_DIR } from '../../support/stack';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { eventTypes, makeCatalog, orderIdOf, startOrder, stockOf, waitForStatus } from '../../support/saga-fixtures';
import { addItemUpdate, cancelOrderSignal, orderDeliveredSignal, submitOrderUpdate } from '../../../workflows/order/contract';

async function submitted(handle: WorkflowHandle, sku: string, quantity: number): Promise<void> {
  await handle.executeUpdate(addItemUpdate, { args: [{ sku, quantity }] });
  await handle.executeUpdate(submitOrderUpdate);
}

/** Waits until the workflow's capturePayment activity is running on a worker. */
async function captureInFlight(handle: WorkflowHandle, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const capture = pending.find((a) => a.activityType?.name === 'capturePayment');
    if (capture?.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED) return;
    if (Date.now() > deadline) throw new Error('capturePayment never started');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('payments that take their time (real dev server and Postgres)', () => {
  let db: Knex;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db?.destroy());

  describe('cancelled while the payment is in flight', () => {
    let workers: RunningWorkers;
    beforeAll(async () => {
      workers = await runWorkers(db, undefined, { paymentOptions: { captureDelayMs: 2000 } });
    }, 120_000);
    afterAll(() => workers?.stop());

    it('refunds (or voids) the payment and releases the stock', async () => {
      const catalog = await makeCatalog(db, 5);
      const before = await stockOf(db, catalog.sku.widget);
      const handle = await startOrder(workers.client, catalog.customers.good);
      await submitted(handle, catalog.sku.widget, 2);
      await captureInFlight(handle);
      await handle.signal(cancelOrderSignal, { reason: 'customer changed their mind' });

      expect(await handle.result()).toMatchObject({ status: 'cancelled', cancellationReason: 'customer changed their mind' });
      const types = await eventTypes(db, handle);
      expect(types.slice(0, 4)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderSubmitted', 'InventoryReserved']);
      expect(types).toContain('OrderCancelled');
      expect(types.at(-1)).toBe('InventoryReleased');
      expect(await stockOf(db, catalog.sku.widget)).toEqual(before);
      // The refund compensation ran for the payment id, whether or not the capture had landed: no charge stands.
      const payment = await db('payments').where({ payment_id: `pay-${orderIdOf(handle)}` }).first<{ status: string }>();
      expect(payment?.status).toBe('refunded');
    });
  });

  describe('the payments worker is SIGKILLed in the middle of a capture', () => {
    let workers: RunningWorkers;
    const children: ChildProcess[] = [];

    function startPaymentsWorker(): ChildProcess {
      // node itself (tsx as a loader, not the tsx wrapper, which would run the worker in a grandchild
      // that SIGKILL would not reach).
      const child = spawn(process.execPath, ['--import', 'tsx', 'workers/order-worker.ts', 'payments'], {
        cwd: REPO_DIR,
        env: { ...process.env, PAYMENTS_CAPTURE_DELAY_MS: '3000', LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
      children.push(child);
      return child;
    }

    beforeAll(async () => {
      // Everything but payments runs here; payments run only in the child processes.
      workers = await runWorkers(db, ['orders', 'inventory', 'shipping', 'notifications']);
    }, 120_000);
    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await workers?.stop();
    });

    it('completes the order with exactly one charge and one reservation', async () => {
      const catalog = await makeCatalog(db, 5);
      const before = await stockOf(db, catalog.sku.widget);
      const first = startPaymentsWorker();
      const handle = await startOrder(workers.client, catalog.customers.good);
      await submitted(handle, catalog.sku.widget, 3);
      await captureInFlight(handle, 60_000);

      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      startPaymentsWorker();

      // The heartbeat timeout hands the capture to the new worker, which charges once.
      await waitForStatus(handle, ['confirmed'], 90_000);
      await handle.signal(orderDeliveredSignal, {});
      expect(await handle.result()).toMatchObject({ status: 'delivered' });

      const payments = await db('payments').where({ order_id: orderIdOf(handle) }).select('status', 'amount_minor');
      expect(payments).toEqual([{ status: 'captured', amount_minor: '3750' }]);
      const reservations = await db('inventory_reservations').where({ order_id: orderIdOf(handle) }).select('status');
      expect(reservations).toEqual([{ status: 'committed' }]);
      expect(await stockOf(db, catalog.sku.widget)).toEqual({ available: before.available - 3, reserved: 0, sold: before.sold + 3 });
      // The kill really hit a running capture: it completed only on its second attempt.
      const history = (await handle.fetchHistory()).events ?? [];
      const captureScheduled = history.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'capturePayment');
      const captureStarted = history.find(
        (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === captureScheduled?.eventId?.toString(),
      );
      expect(captureStarted?.activityTaskStartedEventAttributes?.attempt).toBe(2);

      const types = await eventTypes(db, handle);
      expect(types.filter((t) => t === 'PaymentCaptured')).toHaveLength(1);
      expect(types.filter((t) => t === 'InventoryReserved')).toHaveLength(1);
    }, 150_000);
  });
});
