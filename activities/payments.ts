import { asyncLocalStorage, type Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import { config } from '../config';
import { equals, of as moneyOf, type Money } from '../domain/money';
import { BUSINESS_FAILURES, businessFailure, requireMoney, requireText } from './errors';

/*
 * The payment service: captures and refunds against the customer's payment method. The payment id is
 * the idempotency key (the payments primary key), so however often Temporal runs a capture, the
 * customer is charged at most once per id.
 */

export interface PaymentOptions {
  /**
   * How long a capture waits, heartbeating, before it writes the charge: a stand-in for a slow card
   * network, so tests and demos can kill a worker mid-capture. 0 in normal operation.
   */
  captureDelayMs: number;
}

export interface CapturePaymentInput {
  paymentId: string;
  orderId: string;
  customerId: string;
  amount: Money;
}

export interface CapturePaymentResult {
  paymentId: string;
  amount: Money;
  /** ISO 8601, from the database clock. */
  capturedAt: string;
}

export interface RefundPaymentInput {
  paymentId: string;
  reason: string;
}

export interface RefundPaymentResult {
  /** True when this call refunded the charge; false when there was none or an earlier call refunded it. */
  refunded: boolean;
  /** The charge that is refunded, whenever one was captured under this payment id. */
  amount?: Money;
}

interface PaymentRow {
  order_id: string | null;
  customer_id: string | null;
  amount_minor: string | null;
  currency: string | null;
  status: 'captured' | 'refunded';
  captured_at: Date | null;
}

/** How a payment method answers a charge: it stands in for the card network, so demos and tests choose. */
export const PAYMENT_METHOD_BEHAVIOURS = ['approve', 'decline'] as const;
export type PaymentMethodBehaviour = (typeof PAYMENT_METHOD_BEHAVIOURS)[number];

interface PayerRow {
  payment_method_id: string | null;
  behaviour: PaymentMethodBehaviour | null;
}

const HEARTBEAT_EVERY_MS = 1000;

/**
 * Waits before the charge, heartbeating so that a worker killed meanwhile is noticed within the
 * heartbeat timeout. Cancellation ends the wait with a CancelledFailure, before anything is charged.
 * Outside an activity (scripts, plain tests) it just waits.
 */
async function pauseBeforeCharge(ms: number): Promise<void> {
  if (ms <= 0) return;
  const context: Context | undefined = asyncLocalStorage.getStore();
  if (!context) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return;
  }
  const timeoutMs = context.info.heartbeatTimeoutMs;
  const interval = timeoutMs ? Math.max(1, Math.min(HEARTBEAT_EVERY_MS, Math.floor(timeoutMs / 3))) : HEARTBEAT_EVERY_MS;
  for (let waited = 0; waited < ms; waited += interval) {
    context.heartbeat({ waitedMs: waited });
    await context.sleep(Math.min(interval, ms - waited));
  }
  context.heartbeat({ waitedMs: ms });
}

function checkCaptureInput(input: CapturePaymentInput): void {
  requireText('paymentId', input.paymentId);
  requireText('orderId', input.orderId);
  requireText('customerId', input.customerId);
  requireMoney(input.amount);
}

function chargeOf(row: PaymentRow): Money | undefined {
  if (row.amount_minor === null || row.currency === null) return undefined;
  // bigint arrives as a string; moneyOf rejects anything beyond Number's exact integers.
  return moneyOf(Number(row.amount_minor), row.currency);
}

async function readPayment(db: Knex | Knex.Transaction, paymentId: string, lock = false): Promise<PaymentRow | undefined> {
  const { rows } = await db.raw<{ rows: PaymentRow[] }>(
    `SELECT order_id, customer_id, amount_minor, currency, status, captured_at
       FROM payments WHERE payment_id = ? ${lock ? 'FOR UPDATE' : ''}`,
    [paymentId],
  );
  return rows[0];
}

/** A capture whose payment id is already stored: answer as the first one did, or refuse. */
function answerExisting(input: CapturePaymentInput, row: PaymentRow): CapturePaymentResult {
  const { paymentId } = input;
  if (row.status === 'refunded') {
    const beforeCapture = row.captured_at === null;
    throw businessFailure(
      BUSINESS_FAILURES.paymentVoided,
      `Payment ${paymentId} was refunded${beforeCapture ? ' before it was captured' : ''}; it cannot be captured again.`,
      { paymentId, refundedBeforeCapture: beforeCapture },
    );
  }
  const amount = chargeOf(row);
  if (
    !amount ||
    row.captured_at === null ||
    row.order_id !== input.orderId ||
    row.customer_id !== input.customerId ||
    !equals(amount, input.amount)
  ) {
    throw businessFailure(
      BUSINESS_FAILURES.idempotencyConflict,
      `Payment ${paymentId} was already captured for another order, customer or amount.`,
      { paymentId },
    );
  }
  return { paymentId, amount, capturedAt: row.captured_at.toISOString() };
}

/** Throws unless the customer exists and their payment method approves. */
async function authorise(trx: Knex.Transaction, customerId: string): Promise<void> {
  const { rows } = await trx.raw<{ rows: PayerRow[] }>(
    `SELECT c.payment_method_id, m.behaviour
       FROM customers c
       LEFT JOIN payment_methods m ON m.payment_method_id = c.payment_method_id AND m.customer_id = c.customer_id
      WHERE c.customer_id = ?`,
    [customerId],
  );
  const payer = rows[0];
  if (!payer) {
    throw businessFailure(BUSINESS_FAILURES.unknownCustomer, `No customer with id ${customerId} exists.`, { customerId });
  }
  if (payer.behaviour === null) {
    throw businessFailure(BUSINESS_FAILURES.paymentDeclined, `Customer ${customerId} has no payment method.`, {
      customerId,
      paymentMethodId: payer.payment_method_id,
      reason: 'no_payment_method',
    });
  }
  if (payer.behaviour === 'decline') {
    throw businessFailure(BUSINESS_FAILURES.paymentDeclined, `The payment method of customer ${customerId} was declined.`, {
      customerId,
      paymentMethodId: payer.payment_method_id,
      reason: 'declined',
    });
  }
}

export function createPaymentActivities(db: Knex, options: Partial<PaymentOptions> = {}) {
  const captureDelayMs = options.captureDelayMs ?? config().PAYMENTS_CAPTURE_DELAY_MS;
  if (!Number.isSafeInteger(captureDelayMs) || captureDelayMs < 0) {
    throw new Error(`captureDelayMs must be a whole number of milliseconds >= 0, not ${captureDelayMs}`);
  }

  /** Charges the customer once per payment id; a repeat returns the original charge. */
  async function capturePayment(input: CapturePaymentInput): Promise<CapturePaymentResult> {
    checkCaptureInput(input);
    const { paymentId, orderId, customerId, amount } = input;
    // A repeat must not wait again: the charge it would wait for is already there.
    const earlier = await readPayment(db, paymentId);
    if (earlier) return answerExisting(input, earlier);

    await pauseBeforeCharge(captureDelayMs);

    return db.transaction(async (trx) => {
      const existing = await readPayment(trx, paymentId, true);
      if (existing) return answerExisting(input, existing);
      await authorise(trx, customerId);
      // A concurrent capture or refund with this id makes this insert wait for it, then do nothing.
      const { rows } = await trx.raw<{ rows: { captured_at: Date }[] }>(
        `INSERT INTO payments (payment_id, order_id, customer_id, amount_minor, currency, status, captured_at)
         VALUES (?, ?, ?, ?, ?, 'captured', now())
         ON CONFLICT (payment_id) DO NOTHING
         RETURNING captured_at`,
        [paymentId, orderId, customerId, amount.amountMinor, amount.currency],
      );
      const written = rows[0];
      if (written) {
        return { paymentId, amount: moneyOf(amount.amountMinor, amount.currency), capturedAt: written.captured_at.toISOString() };
      }
      const winner = await readPayment(trx, paymentId);
      if (!winner) throw new Error(`payment ${paymentId} conflicted on insert but cannot be read`);
      return answerExisting(input, winner);
    });
  }

  /**
   * Refunds the whole charge. Registered as a compensation before the capture runs, so it copes with a
   * payment that does not exist yet: it leaves a refunded tombstone that a late capture runs into.
   */
  async function refundPayment(input: RefundPaymentInput): Promise<RefundPaymentResult> {
    const paymentId = requireText('paymentId', input.paymentId);
    const reason = requireText('reason', input.reason);
    return db.transaction(async (trx) => {
      const tombstone = await trx.raw<{ rows: unknown[] }>(
        `INSERT INTO payments (payment_id, status, refunded_at, refund_reason)
         VALUES (?, 'refunded', now(), ?)
         ON CONFLICT (payment_id) DO NOTHING
         RETURNING payment_id`,
        [paymentId, reason],
      );
      if (tombstone.rows.length > 0) return { refunded: false };

      const existing = await readPayment(trx, paymentId, true);
      if (!existing) throw new Error(`payment ${paymentId} conflicted on insert but cannot be read`);
      const amount = chargeOf(existing);
      if (existing.status === 'refunded') return amount ? { refunded: false, amount } : { refunded: false };
      // The table's checks guarantee a captured payment has its amount.
      if (!amount) throw new Error(`captured payment ${paymentId} has no amount`);
      await trx.raw(
        `UPDATE payments SET status = 'refunded', refunded_at = now(), refund_reason = ? WHERE payment_id = ?`,
        [reason, paymentId],
      );
      return { refunded: true, amount };
    });
  }

  return { capturePayment, refundPayment };
}
