import { ApplicationFailure } from '@temporalio/common';
import { ORDER_EVENT_FAILURES } from '../../activities/order-events';
import type { OrderEvent } from '../../domain/order/events';
import { EventStoreDouble, FaultPlan, faults } from '../support/workflow-doubles';

// The harness's event store must refuse what the real one refuses, or workflow tests prove nothing
// about the workflow's expected versions.
describe('the event store double', () => {
  const orderId = 'o-1';
  const created: OrderEvent = {
    type: 'OrderCreated',
    data: { orderId, customerId: 'c-1', currency: 'USD', createdAt: '2026-12-01T00:00:00.000Z' },
  };
  const added: OrderEvent = {
    type: 'OrderItemAdded',
    data: { orderId, sku: 'SKU-PEN', quantity: 1, unitPrice: { amountMinor: 199, currency: 'USD' } },
  };

  const failureOf = async (promise: Promise<unknown>): Promise<ApplicationFailure> => {
    const err: unknown = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(err)}`);
    return err;
  };

  it('appends at the expected version and answers a repeat as a duplicate', async () => {
    const store = new EventStoreDouble();
    await expect(store.appendOrderEvents({ orderId, expectedVersion: 0, events: [created] })).resolves.toEqual({
      version: 1,
      duplicate: false,
      published: false,
    });
    await expect(store.appendOrderEvents({ orderId, expectedVersion: 1, events: [added], publish: true })).resolves.toEqual({
      version: 2,
      duplicate: false,
      published: true,
    });
    await expect(store.appendOrderEvents({ orderId, expectedVersion: 0, events: [created] })).resolves.toMatchObject({
      version: 1,
      duplicate: true,
    });
    expect(store.eventTypes(orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
  });

  it('refuses a wrong expected version, and other content at a stored version, without retries', async () => {
    const store = new EventStoreDouble();
    await store.appendOrderEvents({ orderId, expectedVersion: 0, events: [created] });

    const conflict = await failureOf(store.appendOrderEvents({ orderId, expectedVersion: 3, events: [added] }));
    expect(conflict).toMatchObject({ type: ORDER_EVENT_FAILURES.concurrency, nonRetryable: true });
    expect(conflict.details).toEqual([{ expected: 3, actual: 1 }]);

    const mismatch = await failureOf(store.appendOrderEvents({ orderId, expectedVersion: 0, events: [added] }));
    expect(mismatch).toMatchObject({ type: ORDER_EVENT_FAILURES.invalidEvent, nonRetryable: true });

    const invalid = await failureOf(
      store.appendOrderEvents({ orderId, expectedVersion: 1, events: [{ ...added, data: { ...added.data, quantity: 0 } }] }),
    );
    expect(invalid).toMatchObject({ type: ORDER_EVENT_FAILURES.invalidEvent, nonRetryable: true });
    expect(store.eventTypes(orderId)).toEqual(['OrderCreated']);
  });

  it('picks faults by activity, call number and workflow', () => {
    const plan = new FaultPlan()
      .failFirst('capturePayment', 2, faults.retryable())
      .inject({ activity: 'createShipment', calls: 'every', fault: faults.delay(10), workflowId: 'order-a' });
    expect(plan.for({ activity: 'capturePayment', workflowId: 'order-a', call: 2 })).toHaveLength(1);
    expect(plan.for({ activity: 'capturePayment', workflowId: 'order-a', call: 3 })).toHaveLength(0);
    expect(plan.for({ activity: 'createShipment', workflowId: 'order-a', call: 7 })).toHaveLength(1);
    expect(plan.for({ activity: 'createShipment', workflowId: 'order-b', call: 1 })).toHaveLength(0);
  });
});
