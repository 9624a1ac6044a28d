import type { Knex } from 'knex';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defineSearchAttributeKey } from '@temporalio/common';
import { openTestDatabase } from '../../support/postgres';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import {
  eventTypes,
  makeCatalog,
  orderIdOf,
  paymentsOf,
  startOrder,
  stockOf,
  waitForStatus,
  type OrderOutcome,
} from '../../support/saga-fixtures';
import {
  addItemUpdate,
  cancelOrderSignal,
  getSagaProgressQuery,
  orderDeliveredSignal,
  removeItemUpdate,
  submitOrderUpdate,
} from '../../../workflows/order/contract';
import { PATCHES } from '../../../workflows/order/order-workflow';

const TemporalChangeVersion = defineSearchAttributeKey('TemporalChangeVersion', 'KEYWORD_LIST');

describe('order saga on the real Temporal dev server and Postgres', () => {
  let db: Knex;
  let workers: RunningWorkers;
  let catalog: Awaited<ReturnType<typeof makeCatalog>>;

  beforeAll(async () => {
    db = await openTestDatabase();
    workers = await runWorkers(db);
    catalog = await makeCatalog(db, 5);
  }, 120_000);
  afterAll(async () => {
    await workers?.stop();
    await db?.destroy();
  });

  async function draftWith(customerId: string, items: [sku: string, quantity: number][], extra = {}): Promise<WorkflowHandle> {
    const handle = await startOrder(workers.client, customerId, extra);
    for (const [sku, quantity] of items) await handle.executeUpdate(addItemUpdate, { args: [{ sku, quantity }] });
    return handle;
  }

  it('happy path: draft, submit, reserve, capture, ship, confirm, deliver', async () => {
    const before = await stockOf(db, catalog.sku.widget);
    const handle = await draftWith(catalog.customers.good, [
      [catalog.sku.widget, 2],
      [catalog.sku.gadget, 1],
    ]);
    const removed = await handle.executeUpdate(removeItemUpdate, { args: [{ sku: catalog.sku.gadget }] });
    expect(removed.items.map((i) => i.sku)).toEqual([catalog.sku.widget]);
    const submitted = await handle.executeUpdate(submitOrderUpdate);
    expect(submitted).toMatchObject({ status: 'submitted', total: { amountMinor: 2500, currency: 'USD' } });

    await waitForStatus(handle, ['confirmed']);
    expect(await handle.query(getSagaProgressQuery)).toMatchObject({
      done: ['inventory', 'payment', 'shipment', 'confirmation'],
      pending: [],
    });
    await handle.signal(orderDeliveredSignal, {});
    const outcome: OrderOutcome = await handle.result();
    expect(outcome.status).toBe('delivered');
    // New runs take the patched paths: each patch's marker is recorded once and indexed as TemporalChangeVersion.
    const history = (await handle.fetchHistory()).events ?? [];
    // (The publishing patches are never asked once the appends are local: they publish on their own.)
    const taken = Object.values(PATCHES).filter((patch) => patch !== PATCHES.publishAfterAppend && patch !== PATCHES.publishWithAppend);
    const markers = history.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    expect(markers).toHaveLength(taken.length);
    const changeVersions = (await handle.describe()).typedSearchAttributes.get(TemporalChangeVersion);
    expect(changeVersions?.sort()).toEqual(taken.sort());
    // The appends and catalog look-ups ran as local activities: markers, no scheduled activity of their own.
    const activities = history.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    expect(activities).toEqual(expect.arrayContaining(['reserveInventory', 'capturePayment', 'createShipment']));
    expect(activities).not.toContain('appendOrderEvents');
    expect(activities).not.toContain('getProduct');
    expect(activities).not.toContain('publishOrderEvents');
    const localActivities = history.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    expect(localActivities).toHaveLength(10 + 2);

    expect(await eventTypes(db, handle)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderItemAdded',
      'OrderItemRemoved',
      'OrderSubmitted',
      'InventoryReserved',
      'PaymentCaptured',
      'ShipmentCreated',
      'OrderConfirmed',
      'OrderDelivered',
    ]);
    const after = await stockOf(db, catalog.sku.widget);
    expect(after).toEqual({ available: before.available - 2, reserved: before.reserved, sold: before.sold + 2 });
    expect(await paymentsOf(db, orderIdOf(handle))).toEqual([{ status: 'captured', amount_minor: '2500' }]);
    expect(await db('notifications').where({ order_id: orderIdOf(handle) }).count<{ count: string }[]>('* as count')).toEqual([
      { count: '1' },
    ]);
  });

  it('out of stock: fails at inventory and changes no stock', async () => {
    const before = await stockOf(db, catalog.sku.gadget);
    const handle = await draftWith(catalog.customers.good, [[catalog.sku.gadget, before.available + 1]]);
    await handle.executeUpdate(submitOrderUpdate);
    const outcome: OrderOutcome = await handle.result();
    expect(outcome).toMatchObject({ status: 'failed', failure: { step: 'inventory' } });
    expect(outcome.failure?.reason).toMatch(/OutOfStock/);
    expect(await eventTypes(db, handle)).toEqual(['OrderCreated', 'OrderItemAdded', 'OrderSubmitted', 'OrderFailed']);
    expect(await stockOf(db, catalog.sku.gadget)).toEqual(before);
  });

  it('card declined: releases the reservation, stock back where it was', async () => {
    const before = await stockOf(db, catalog.sku.widget);
    const handle = await draftWith(catalog.customers.declines, [[catalog.sku.widget, 1]]);
    await handle.executeUpdate(submitOrderUpdate);
    const outcome: OrderOutcome = await handle.result();
    expect(outcome).toMatchObject({ status: 'failed', failure: { step: 'payment' } });
    expect(await eventTypes(db, handle)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'OrderFailed',
      'InventoryReleased',
    ]);
    expect(await stockOf(db, catalog.sku.widget)).toEqual(before);
    expect(await paymentsOf(db, orderIdOf(handle))).toEqual([]);
  });

  it('shipment failure: refunds the payment and releases the stock, in reverse order', async () => {
    const before = await stockOf(db, catalog.sku.widget);
    const handle = await draftWith(catalog.customers.undeliverable, [[catalog.sku.widget, 1]]);
    await handle.executeUpdate(submitOrderUpdate);
    const outcome: OrderOutcome = await handle.result();
    expect(outcome).toMatchObject({ status: 'failed', failure: { step: 'shipment' } });
    expect(await eventTypes(db, handle)).toEqual([
      'OrderCreated',
      'OrderItemAdded',
      'OrderSubmitted',
      'InventoryReserved',
      'PaymentCaptured',
      'OrderFailed',
      'PaymentRefunded',
      'InventoryReleased',
    ]);
    expect(await stockOf(db, catalog.sku.widget)).toEqual(before);
    expect(await paymentsOf(db, orderIdOf(handle))).toEqual([{ status: 'refunded', amount_minor: '1250' }]);
  });

  it('delivery timeout: fails in delivery and undoes shipment, payment and reservation', async () => {
    const before = await stockOf(db, catalog.sku.widget);
    const handle = await draftWith(catalog.customers.good, [[catalog.sku.widget, 1]], { deliveryTimeoutMs: 1500 });
    await handle.executeUpdate(submitOrderUpdate);
    const outcome: OrderOutcome = await handle.result();
    expect(outcome).toMatchObject({ status: 'failed', failure: { step: 'delivery', reason: 'delivery_timeout' } });
    expect((await eventTypes(db, handle)).slice(-4)).toEqual(['OrderFailed', 'ShipmentCancelled', 'PaymentRefunded', 'InventoryReleased']);
    expect(await stockOf(db, catalog.sku.widget)).toEqual(before);
    const shipment = await db('shipments').where({ order_id: orderIdOf(handle) }).first<{ status: string }>();
    expect(shipment?.status).toBe('cancelled');
  });

  it('a cancelOrder signal in the draft cancels it; an unsubmitted draft expires', async () => {
    const cancelled = await draftWith(catalog.customers.good, [[catalog.sku.widget, 1]]);
    await cancelled.signal(cancelOrderSignal, { reason: 'changed my mind' });
    expect(await cancelled.result()).toMatchObject({ status: 'cancelled', cancellationReason: 'changed my mind' });

    const expiring = await draftWith(catalog.customers.good, [[catalog.sku.widget, 1]], { draftTtlMs: 1000 });
    expect(await expiring.result()).toMatchObject({ status: 'cancelled', cancellationReason: 'draft_expired' });
  });

  it('cancelling the workflow (as from the Web UI or CLI) after shipment still undoes everything', async () => {
    const before = await stockOf(db, catalog.sku.widget);
    const handle = await draftWith(catalog.customers.good, [[catalog.sku.widget, 1]]);
    await handle.executeUpdate(submitOrderUpdate);
    await waitForStatus(handle, ['confirmed']);
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect((await eventTypes(db, handle)).slice(-4)).toEqual(['OrderFailed', 'ShipmentCancelled', 'PaymentRefunded', 'InventoryReleased']);
    expect(await stockOf(db, catalog.sku.widget)).toEqual(before);
    expect(await paymentsOf(db, orderIdOf(handle))).toEqual([{ status: 'refunded', amount_minor: '1250' }]);
  });

  describe('updates validate input before it enters history', () => {
    async function updateError(promise: Promise<unknown>): Promise<ApplicationFailure> {
      const err = await promise.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (err as WorkflowUpdateFailedError).cause;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      return cause as ApplicationFailure;
    }

    it('rejects bad quantities, unknown SKUs, empty submits and changes after submit, with the domain code', async () => {
      const handle = await startOrder(workers.client, catalog.customers.good);
      expect((await updateError(handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.widget, quantity: 0 }] }))).type).toBe(
        'INVALID_QUANTITY',
      );
      expect((await updateError(handle.executeUpdate(submitOrderUpdate))).type).toBe('ORDER_EMPTY');
      expect((await updateError(handle.executeUpdate(addItemUpdate, { args: [{ sku: 'NO-SUCH-SKU', quantity: 1 }] }))).type).toBe(
        'UNKNOWN_SKU',
      );
      expect((await updateError(handle.executeUpdate(removeItemUpdate, { args: [{ sku: catalog.sku.widget }] }))).type).toBe(
        'ITEM_NOT_FOUND',
      );

      // Rejected by validators: no update was ever accepted into history.
      const history = await handle.fetchHistory();
      const accepted = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      // Only the unknown SKU passes validation (its existence is checked against the catalog in the handler).
      expect(accepted).toHaveLength(1);
      await handle.signal(cancelOrderSignal, {});
      await handle.result();
    });
  });

  it('makes orders findable by the OrderStatus, CustomerId and OrderTotal search attributes', async () => {
    const handle = await draftWith(catalog.customers.good, [[catalog.sku.gadget, 1]]);
    await handle.signal(cancelOrderSignal, {});
    await handle.result();
    const query = `CustomerId = "${catalog.customers.good}" AND OrderStatus = "cancelled" AND OrderTotal = 9.99`;
    const deadline = Date.now() + 20_000;
    let found: string[] = [];
    while (Date.now() < deadline) {
      found = [];
      for await (const wf of workers.client.workflow.list({ query })) found.push(wf.workflowId);
      if (found.includes(handle.workflowId)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toContain(handle.workflowId);
  });
});
