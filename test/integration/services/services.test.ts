import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { Knex } from 'knex';
import { BUSINESS_FAILURES, businessFailure, findBusinessFailure } from '../../../activities/errors';
import { createActivitiesByService, createServiceActivities } from '../../../activities/services';
import { TASK_QUEUES, type ServiceName } from '../../../workflows/task-queues';
import { openTestDatabase } from '../../support/postgres';

describe('service activities as a whole', () => {
  let db: Knex;
  beforeAll(async () => {
    db = await openTestDatabase(2);
  });
  afterAll(() => db?.destroy());

  it('has one set of activities per service task queue, and all of them merged', () => {
    const byService = createActivitiesByService(db, { payments: { captureDelayMs: 0 } });
    const services = Object.keys(TASK_QUEUES).filter((queue): queue is ServiceName => queue !== 'orders');
    expect(Object.keys(byService).sort()).toEqual(services.sort());
    expect(Object.keys(createServiceActivities(db, { payments: { captureDelayMs: 0 } })).sort()).toEqual([
      'cancelShipment',
      'capturePayment',
      'commitReservation',
      'createShipment',
      'getProduct',
      'markDelivered',
      'refundPayment',
      'releaseInventory',
      'reserveInventory',
      'sendOrderConfirmation',
    ]);
  });

  it('finds the business failure inside the ActivityFailure a workflow sees, and ignores other errors', () => {
    const cause = businessFailure(BUSINESS_FAILURES.outOfStock, 'out', { sku: 'A', requested: 2, available: 1 });
    const seenByWorkflow = new ActivityFailure('failed', 'reserveInventory', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);
    expect(findBusinessFailure(seenByWorkflow)).toEqual({
      type: 'OutOfStock',
      message: 'out',
      details: { sku: 'A', requested: 2, available: 1 },
    });
    expect(findBusinessFailure(ApplicationFailure.nonRetryable('boom', 'SomethingElse'))).toBeUndefined();
    expect(findBusinessFailure(new Error('connection reset'))).toBeUndefined();
    expect(findBusinessFailure('not an error')).toBeUndefined();
  });
});
