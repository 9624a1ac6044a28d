import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { upsertCustomers } from '../../../activities/catalog-seed';
import { BUSINESS_FAILURES } from '../../../activities/errors';
import { createNotificationActivities, type SendOrderConfirmationInput } from '../../../activities/notifications';
import { of as moneyOf } from '../../../domain/money';
import { openTestDatabase } from '../../support/postgres';

describe('notification activities (real Postgres)', () => {
  let db: Knex;
  let notifications: ReturnType<typeof createNotificationActivities>;
  beforeAll(async () => {
    db = await openTestDatabase();
    notifications = createNotificationActivities(db);
  });
  afterAll(() => db?.destroy());

  async function newCustomer(): Promise<string> {
    const customerId = `cust-${randomUUID()}`;
    await upsertCustomers(db, [
      { customerId, name: 'Nora Notified', email: `${customerId}@example.test`, shippingAddress: null, paymentMethod: null },
    ]);
    return customerId;
  }

  const confirmationOf = (customerId: string): SendOrderConfirmationInput => ({
    notificationId: `ntf-${randomUUID()}`,
    orderId: `ord-${randomUUID()}`,
    customerId,
    total: moneyOf(4_200, 'GBP'),
    trackingNumber: '1ZTEST',
  });

  async function notificationRows(notificationId: string): Promise<Record<string, unknown>[]> {
    return db('notifications').where({ notification_id: notificationId }).select('*');
  }

  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }

  it('records the confirmation to the customer with the total and tracking number', async () => {
    const input = confirmationOf(await newCustomer());
    const sent = await notifications.sendOrderConfirmation(input);
    expect(sent).toEqual({ notificationId: input.notificationId, sentAt: expect.any(String) });
    expect(await notificationRows(input.notificationId)).toEqual([
      expect.objectContaining({
        order_id: input.orderId,
        kind: 'order_confirmation',
        payload: {
          to: `${input.customerId}@example.test`,
          customerName: 'Nora Notified',
          orderId: input.orderId,
          total: input.total,
          trackingNumber: '1ZTEST',
        },
      }),
    ]);
  });

  it('is idempotent: concurrent and repeated sends record once and report the first send time', async () => {
    const input = confirmationOf(await newCustomer());
    const results = await Promise.all(Array.from({ length: 5 }, () => notifications.sendOrderConfirmation(input)));
    expect(new Set(results.map((r) => r.sentAt)).size).toBe(1);
    await expect(notifications.sendOrderConfirmation(input)).resolves.toEqual(results[0]);
    expect(await notificationRows(input.notificationId)).toHaveLength(1);
  });

  it('the same notification id with another total is a non-retryable IdempotencyConflict', async () => {
    const input = confirmationOf(await newCustomer());
    await notifications.sendOrderConfirmation(input);
    const failure = await failureOf(notifications.sendOrderConfirmation({ ...input, total: moneyOf(1, 'GBP') }));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.idempotencyConflict, nonRetryable: true });
  });

  it('works without a tracking number and refuses unknown customers', async () => {
    const { trackingNumber: _omitted, ...input } = confirmationOf(await newCustomer());
    await notifications.sendOrderConfirmation(input);
    expect(await notificationRows(input.notificationId)).toEqual([
      expect.objectContaining({ payload: expect.objectContaining({ trackingNumber: null }) }),
    ]);
    const failure = await failureOf(notifications.sendOrderConfirmation(confirmationOf(`cust-${randomUUID()}`)));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.unknownCustomer, nonRetryable: true });
  });
});
