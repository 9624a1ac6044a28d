import type { Knex } from 'knex';
import { equals, type Money } from '../domain/money';
import { BUSINESS_FAILURES, businessFailure, requireMoney, requireText } from './errors';

/*
 * The notification service. There is no mail provider: recording the message is the send. The
 * notification id is the idempotency key, so a retried send records (and would deliver) once.
 */

export const NOTIFICATION_KINDS = { orderConfirmation: 'order_confirmation' } as const;

export interface SendOrderConfirmationInput {
  notificationId: string;
  orderId: string;
  customerId: string;
  total: Money;
  trackingNumber?: string;
}

export interface SendOrderConfirmationResult {
  notificationId: string;
  /** ISO 8601, from the database clock; the same on every repeat. */
  sentAt: string;
}

/** What the message says; stored as the row's payload. */
export interface OrderConfirmationPayload {
  to: string;
  customerName: string;
  orderId: string;
  total: Money;
  trackingNumber: string | null;
}

interface NotificationRow {
  order_id: string;
  customer_id: string;
  kind: string;
  payload: OrderConfirmationPayload;
  sent_at: Date;
}

function checkInput(input: SendOrderConfirmationInput): void {
  requireText('notificationId', input.notificationId);
  requireText('orderId', input.orderId);
  requireText('customerId', input.customerId);
  if (input.trackingNumber !== undefined) requireText('trackingNumber', input.trackingNumber);
  requireMoney(input.total);
}

async function readNotification(db: Knex | Knex.Transaction, notificationId: string): Promise<NotificationRow | undefined> {
  const { rows } = await db.raw<{ rows: NotificationRow[] }>(
    `SELECT order_id, customer_id, kind, payload, sent_at FROM notifications WHERE notification_id = ?`,
    [notificationId],
  );
  return rows[0];
}

/** A send whose notification id is already stored: answer as the first one did, or refuse. */
function answerExisting(input: SendOrderConfirmationInput, row: NotificationRow): SendOrderConfirmationResult {
  // The address is not compared: the customer may have changed it since, and the message went to the old one.
  if (
    row.kind !== NOTIFICATION_KINDS.orderConfirmation ||
    row.order_id !== input.orderId ||
    row.customer_id !== input.customerId ||
    !equals(row.payload.total, input.total) ||
    row.payload.trackingNumber !== (input.trackingNumber ?? null)
  ) {
    throw businessFailure(
      BUSINESS_FAILURES.idempotencyConflict,
      `Notification ${input.notificationId} was already sent with other content.`,
      { notificationId: input.notificationId },
    );
  }
  return { notificationId: input.notificationId, sentAt: row.sent_at.toISOString() };
}

export function createNotificationActivities(db: Knex) {
  /** Sends the order confirmation once per notification id; a repeat returns the first send. */
  async function sendOrderConfirmation(input: SendOrderConfirmationInput): Promise<SendOrderConfirmationResult> {
    checkInput(input);
    const { notificationId, orderId, customerId } = input;
    const earlier = await readNotification(db, notificationId);
    if (earlier) return answerExisting(input, earlier);

    const { rows } = await db.raw<{ rows: { name: string; email: string }[] }>(
      `SELECT name, email FROM customers WHERE customer_id = ?`,
      [customerId],
    );
    const customer = rows[0];
    if (!customer) {
      throw businessFailure(BUSINESS_FAILURES.unknownCustomer, `No customer with id ${customerId} exists.`, { customerId });
    }
    const payload: OrderConfirmationPayload = {
      to: customer.email,
      customerName: customer.name,
      orderId,
      total: { amountMinor: input.total.amountMinor, currency: input.total.currency },
      trackingNumber: input.trackingNumber ?? null,
    };
    // One statement, so no transaction is needed: a concurrent send with this id waits, then does nothing.
    const inserted = await db.raw<{ rows: { sent_at: Date }[] }>(
      `INSERT INTO notifications (notification_id, order_id, customer_id, kind, payload, sent_at)
       VALUES (?, ?, ?, ?, ?::jsonb, now())
       ON CONFLICT (notification_id) DO NOTHING
       RETURNING sent_at`,
      [notificationId, orderId, customerId, NOTIFICATION_KINDS.orderConfirmation, JSON.stringify(payload)],
    );
    const written = inserted.rows[0];
    if (written) return { notificationId, sentAt: written.sent_at.toISOString() };
    const winner = await readNotification(db, notificationId);
    if (!winner) throw new Error(`notification ${notificationId} conflicted on insert but cannot be read`);
    return answerExisting(input, winner);
  }

  return { sendOrderConfirmation };
}
