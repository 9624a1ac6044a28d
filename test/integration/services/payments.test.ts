import { randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { upsertCustomers } from '../../../activities/catalog-seed';
import { BUSINESS_FAILURES } from '../../../activities/errors';
import {
  createPaymentActivities,
  type CapturePaymentInput,
  type PaymentMethodBehaviour,
} from '../../../activities/payments';
import { of as moneyOf } from '../../../domain/money';
import { openTestDatabase } from '../../support/postgres';

describe('payment activities (real Postgres)', () => {
  let db: Knex;
  let payments: ReturnType<typeof createPaymentActivities>;
  beforeAll(async () => {
    db = await openTestDatabase();
    payments = createPaymentActivities(db, { captureDelayMs: 0 });
  });
  afterAll(() => db?.destroy());

  /** A new customer of its own; `null` gives them no payment method. */
  async function newCustomer(behaviour: PaymentMethodBehaviour | null): Promise<string> {
    const customerId = `cust-${randomUUID()}`;
    await upsertCustomers(db, [
      {
        customerId,
        name: 'Test Customer',
        email: `${customerId}@example.test`,
        shippingAddress: { line1: '1 Test Street', city: 'Testville', postalCode: '12345', country: 'US' },
        paymentMethod: behaviour ? { paymentMethodId: `pm-${randomUUID()}`, label: 'Test card', behaviour } : null,
      },
    ]);
    return customerId;
  }

  const captureOf = (customerId: string, amountMinor = 12_345): CapturePaymentInput => ({
    paymentId: `pay-${randomUUID()}`,
    orderId: `ord-${randomUUID()}`,
    customerId,
    amount: moneyOf(amountMinor, 'USD'),
  });

  async function paymentRows(paymentId: string): Promise<Record<string, unknown>[]> {
    return db('payments').where({ payment_id: paymentId }).select('*');
  }

  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }

  it('captures the amount once and returns the charge', async () => {
    const input = captureOf(await newCustomer('approve'));
    const result = await payments.capturePayment(input);
    expect(result).toEqual({ paymentId: input.paymentId, amount: input.amount, capturedAt: expect.any(String) });
    expect(new Date(result.capturedAt).toISOString()).toBe(result.capturedAt);
    expect(await paymentRows(input.paymentId)).toEqual([
      expect.objectContaining({ order_id: input.orderId, amount_minor: '12345', currency: 'USD', status: 'captured' }),
    ]);
  });

  it('10 concurrent captures with one payment id charge once and all return the original charge', async () => {
    const input = captureOf(await newCustomer('approve'));
    const results = await Promise.all(Array.from({ length: 10 }, () => payments.capturePayment(input)));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await paymentRows(input.paymentId)).toHaveLength(1);
    // A later retry answers the same, too.
    expect(await payments.capturePayment(input)).toEqual(results[0]);
  });

  it('the same payment id for another amount is a non-retryable IdempotencyConflict', async () => {
    const input = captureOf(await newCustomer('approve'));
    await payments.capturePayment(input);
    const failure = await failureOf(payments.capturePayment({ ...input, amount: moneyOf(1, 'USD') }));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.idempotencyConflict, nonRetryable: true });
  });

  it('a declining card, a customer without a payment method and an unknown customer are non-retryable and charge nothing', async () => {
    const declined = captureOf(await newCustomer('decline'));
    expect(await failureOf(payments.capturePayment(declined))).toMatchObject({
      type: BUSINESS_FAILURES.paymentDeclined,
      nonRetryable: true,
      details: [{ customerId: declined.customerId, reason: 'declined' }],
    });
    const withoutMethod = captureOf(await newCustomer(null));
    expect(await failureOf(payments.capturePayment(withoutMethod))).toMatchObject({
      type: BUSINESS_FAILURES.paymentDeclined,
      nonRetryable: true,
      details: [{ customerId: withoutMethod.customerId, reason: 'no_payment_method' }],
    });
    const stranger = captureOf(`cust-${randomUUID()}`);
    expect(await failureOf(payments.capturePayment(stranger))).toMatchObject({
      type: BUSINESS_FAILURES.unknownCustomer,
      nonRetryable: true,
      details: [{ customerId: stranger.customerId }],
    });
    for (const input of [declined, withoutMethod, stranger]) expect(await paymentRows(input.paymentId)).toEqual([]);
  });

  it('an invalid amount is a non-retryable InvalidRequest', async () => {
    const input = captureOf(await newCustomer('approve'));
    const failure = await failureOf(payments.capturePayment({ ...input, amount: { amountMinor: -5, currency: 'USD' } }));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.invalidRequest, nonRetryable: true });
  });

  it('a refund returns exactly the charge, once; a captured-then-refunded payment cannot be captured again', async () => {
    const input = captureOf(await newCustomer('approve'), 9_999);
    const charge = await payments.capturePayment(input);
    const refund = await payments.refundPayment({ paymentId: input.paymentId, reason: 'shipment failed' });
    expect(refund).toEqual({ refunded: true, amount: charge.amount });
    // A repeat changes nothing but still names the refunded charge.
    await expect(payments.refundPayment({ paymentId: input.paymentId, reason: 'retry' })).resolves.toEqual({
      refunded: false,
      amount: charge.amount,
    });
    expect(await paymentRows(input.paymentId)).toEqual([
      expect.objectContaining({ status: 'refunded', refund_reason: 'shipment failed', amount_minor: '9999' }),
    ]);
    expect(await failureOf(payments.capturePayment(input))).toMatchObject({
      type: BUSINESS_FAILURES.paymentVoided,
      nonRetryable: true,
      details: [{ paymentId: input.paymentId, refundedBeforeCapture: false }],
    });
  });

  it('a refund before the capture leaves a tombstone: the late capture fails with PaymentVoided and charges nothing', async () => {
    const input = captureOf(await newCustomer('approve'));
    await expect(payments.refundPayment({ paymentId: input.paymentId, reason: 'order cancelled' })).resolves.toEqual({
      refunded: false,
    });
    expect(await failureOf(payments.capturePayment(input))).toMatchObject({
      type: BUSINESS_FAILURES.paymentVoided,
      nonRetryable: true,
      details: [{ paymentId: input.paymentId, refundedBeforeCapture: true }],
    });
    expect(await paymentRows(input.paymentId)).toEqual([
      expect.objectContaining({ status: 'refunded', amount_minor: null, captured_at: null }),
    ]);
  });

  it('a refund racing its capture either refunds the charge or voids the payment id', async () => {
    const customerId = await newCustomer('approve');
    for (let round = 0; round < 10; round++) {
      const input = captureOf(customerId);
      const [capture, refund] = await Promise.allSettled([
        payments.capturePayment(input),
        payments.refundPayment({ paymentId: input.paymentId, reason: 'race' }),
      ]);
      if (capture.status === 'fulfilled') {
        expect(refund).toEqual({ status: 'fulfilled', value: { refunded: true, amount: input.amount } });
      } else {
        expect(capture.reason).toMatchObject({ type: BUSINESS_FAILURES.paymentVoided });
        expect(refund).toEqual({ status: 'fulfilled', value: { refunded: false } });
      }
      expect(await paymentRows(input.paymentId)).toEqual([expect.objectContaining({ status: 'refunded' })]);
    }
  });

  describe('the artificial capture delay', () => {

    it('heartbeats while it waits, and writes the charge only after the wait', async () => {
      const slow = createPaymentActivities(db, { captureDelayMs: 600 });
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 300 });
      let heartbeats = 0;
      env.on('heartbeat', () => heartbeats++);
      const input = captureOf(await newCustomer('approve'));

      const capture = env.run(slow.capturePayment, input);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await paymentRows(input.paymentId)).toEqual([]);
      await expect(capture).resolves.toMatchObject({ paymentId: input.paymentId, amount: input.amount });
      expect(heartbeats).toBeGreaterThanOrEqual(3);
      expect(await paymentRows(input.paymentId)).toHaveLength(1);
    });

    it('a cancellation during the wait charges nothing', async () => {
      const slow = createPaymentActivities(db, { captureDelayMs: 5_000 });
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1_000 });
      const input = captureOf(await newCustomer('approve'));

      const capture = env.run(slow.capturePayment, input);
      await new Promise((resolve) => setTimeout(resolve, 200));
      env.cancel();
      await expect(capture).rejects.toBeInstanceOf(CancelledFailure);
      expect(await paymentRows(input.paymentId)).toEqual([]);
    });

    it('is skipped when the payment id was already captured', async () => {
      const input = captureOf(await newCustomer('approve'));
      const charge = await payments.capturePayment(input);
      const slow = createPaymentActivities(db, { captureDelayMs: 30_000 });
      await expect(new MockActivityEnvironment().run(slow.capturePayment, input)).resolves.toEqual(charge);
    });

    it('outside an activity it just waits', async () => {
      const slow = createPaymentActivities(db, { captureDelayMs: 50 });
      const input = captureOf(await newCustomer('approve'));
      await expect(slow.capturePayment(input)).resolves.toMatchObject({ paymentId: input.paymentId });
    });
  });
});
