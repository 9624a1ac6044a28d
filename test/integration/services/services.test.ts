import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import type { Knex } from 'knex';
import { BUSINESS_FAILURES, businessFailure, findBusinessFailure } from '../../../activities/errors';
import { openTestDatabase } from '../../support/postgres';

describe('service activities as a whole', () => {
  let db: Knex;
  beforeAll(async () => {
    db = await openTestDatabase(2);
  });
  afterAll(() => db?.destroy());

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
