import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { z } from 'zod';
import { BUSINESS_FAILURES, businessFailure, requireText } from './errors';
import { normaliseItems, sameItems, type ReservationItem } from './inventory';

/*
 * The shipping service: books a shipment to the customer's address with a carrier. The shipment id is
 * the idempotency key (the shipments primary key).
 */

/** Countries the carriers deliver to. */
export const SUPPORTED_COUNTRIES = ['US', 'CA', 'GB', 'IE', 'DE', 'FR', 'NL', 'BE', 'AT', 'DK', 'SE', 'ES', 'IT'] as const;

/** A postal code the seed data uses for an address that carriers refuse. */
export const UNDELIVERABLE_POSTAL_CODE = 'UNDELIVERABLE';

export const ShippingAddressSchema = z.object({
  line1: z.string().min(1),
  line2: z.string().optional(),
  city: z.string().min(1),
  postalCode: z.string().min(1),
  /** ISO 3166-1 alpha-2. */
  country: z.string().regex(/^[A-Z]{2}$/),
});

export type ShippingAddress = z.infer<typeof ShippingAddressSchema>;

export type ShipmentItem = ReservationItem;

export interface CreateShipmentInput {
  shipmentId: string;
  orderId: string;
  customerId: string;
  items: ShipmentItem[];
}

export interface CreateShipmentResult {
  shipmentId: string;
  carrier: string;
  trackingNumber: string;
}

export interface CancelShipmentInput {
  shipmentId: string;
  reason: string;
}

export interface MarkDeliveredInput {
  shipmentId: string;
}

interface ShipmentRow {
  order_id: string | null;
  customer_id: string | null;
  carrier: string | null;
  tracking_number: string | null;
  items: ShipmentItem[] | null;
  status: 'created' | 'cancelled' | 'delivered';
}

const NORTH_AMERICA = new Set(['US', 'CA']);

interface Carrier {
  name: string;
  trackingPrefix: string;
}

function carrierFor(address: ShippingAddress): Carrier {
  return NORTH_AMERICA.has(address.country)
    ? { name: 'UPS', trackingPrefix: '1Z' }
    : { name: 'DHL', trackingPrefix: 'JD' };
}

/** Derived from the shipment id alone, so every attempt of one shipment books the same number. */
export function trackingNumberFor(shipmentId: string, trackingPrefix: string): string {
  // 80 bits of SHA-256: collisions between shipment ids are out of reach (the column is unique anyway).
  return trackingPrefix + createHash('sha256').update(shipmentId).digest('hex').slice(0, 20).toUpperCase();
}

function undeliverable(customerId: string, reason: string): Error {
  return businessFailure(
    BUSINESS_FAILURES.undeliverableAddress,
    `The address of customer ${customerId} cannot be shipped to: ${reason}.`,
    { customerId, reason },
  );
}

/** The customer's address when a carrier can deliver to it; throws the business failure otherwise. */
function deliverableAddress(customerId: string, stored: unknown): ShippingAddress {
  if (stored === null || stored === undefined) throw undeliverable(customerId, 'the customer has no shipping address');
  const parsed = ShippingAddressSchema.safeParse(stored);
  if (!parsed.success) throw undeliverable(customerId, 'the shipping address is incomplete');
  const address = parsed.data;
  if (!(SUPPORTED_COUNTRIES as readonly string[]).includes(address.country)) {
    throw undeliverable(customerId, `no carrier delivers to ${address.country}`);
  }
  if (address.postalCode.trim().toUpperCase() === UNDELIVERABLE_POSTAL_CODE) {
    throw undeliverable(customerId, `postal code ${address.postalCode} is not served`);
  }
  return address;
}

async function readShipment(db: Knex | Knex.Transaction, shipmentId: string, lock = false): Promise<ShipmentRow | undefined> {
  const { rows } = await db.raw<{ rows: ShipmentRow[] }>(
    `SELECT order_id, customer_id, carrier, tracking_number, items, status
       FROM shipments WHERE shipment_id = ? ${lock ? 'FOR UPDATE' : ''}`,
    [shipmentId],
  );
  return rows[0];
}

function cancelledFailure(shipmentId: string, action: string): Error {
  return businessFailure(BUSINESS_FAILURES.shipmentCancelled, `Shipment ${shipmentId} was cancelled; it cannot ${action}.`, {
    shipmentId,
  });
}

/** A create whose shipment id is already stored: answer as the first one did, or refuse. */
function answerExisting(input: CreateShipmentInput, items: ShipmentItem[], row: ShipmentRow): CreateShipmentResult {
  const { shipmentId } = input;
  if (row.status === 'cancelled') throw cancelledFailure(shipmentId, 'be created again');
  if (
    row.carrier === null ||
    row.tracking_number === null ||
    row.order_id !== input.orderId ||
    row.customer_id !== input.customerId ||
    row.items === null ||
    !sameItems(row.items, items)
  ) {
    throw businessFailure(
      BUSINESS_FAILURES.idempotencyConflict,
      `Shipment ${shipmentId} already exists for another order, customer or items.`,
      { shipmentId },
    );
  }
  return { shipmentId, carrier: row.carrier, trackingNumber: row.tracking_number };
}

export function createShippingActivities(db: Knex) {
  /** Books the shipment once per shipment id; a repeat returns the first booking. */
  async function createShipment(input: CreateShipmentInput): Promise<CreateShipmentResult> {
    const shipmentId = requireText('shipmentId', input.shipmentId);
    const orderId = requireText('orderId', input.orderId);
    const customerId = requireText('customerId', input.customerId);
    const items = normaliseItems(input.items);
    return db.transaction(async (trx) => {
      const existing = await readShipment(trx, shipmentId, true);
      if (existing) return answerExisting(input, items, existing);

      const { rows } = await trx.raw<{ rows: { shipping_address: unknown }[] }>(
        `SELECT shipping_address FROM customers WHERE customer_id = ?`,
        [customerId],
      );
      const customer = rows[0];
      if (!customer) {
        throw businessFailure(BUSINESS_FAILURES.unknownCustomer, `No customer with id ${customerId} exists.`, { customerId });
      }
      const address = deliverableAddress(customerId, customer.shipping_address);
      const carrier = carrierFor(address);
      const trackingNumber = trackingNumberFor(shipmentId, carrier.trackingPrefix);

      // A concurrent create or cancel with this id makes this insert wait for it, then do nothing.
      const inserted = await trx.raw<{ rows: unknown[] }>(
        `INSERT INTO shipments (shipment_id, order_id, customer_id, carrier, tracking_number, address, items, status)
         VALUES (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, 'created')
         ON CONFLICT (shipment_id) DO NOTHING
         RETURNING shipment_id`,
        [shipmentId, orderId, customerId, carrier.name, trackingNumber, JSON.stringify(address), JSON.stringify(items)],
      );
      if (inserted.rows.length > 0) return { shipmentId, carrier: carrier.name, trackingNumber };
      const winner = await readShipment(trx, shipmentId);
      if (!winner) throw new Error(`shipment ${shipmentId} conflicted on insert but cannot be read`);
      return answerExisting(input, items, winner);
    });
  }

  /**
   * Cancels the booking. Registered as a compensation before the create runs, so it copes with a
   * shipment that does not exist yet: it leaves a cancelled tombstone that a late create runs into.
   */
  async function cancelShipment(input: CancelShipmentInput): Promise<{ cancelled: boolean }> {
    const shipmentId = requireText('shipmentId', input.shipmentId);
    const reason = requireText('reason', input.reason);
    return db.transaction(async (trx) => {
      const tombstone = await trx.raw<{ rows: unknown[] }>(
        `INSERT INTO shipments (shipment_id, status, cancel_reason) VALUES (?, 'cancelled', ?)
         ON CONFLICT (shipment_id) DO NOTHING
         RETURNING shipment_id`,
        [shipmentId, reason],
      );
      if (tombstone.rows.length > 0) return { cancelled: false };

      const existing = await readShipment(trx, shipmentId, true);
      if (!existing) throw new Error(`shipment ${shipmentId} conflicted on insert but cannot be read`);
      if (existing.status === 'cancelled') return { cancelled: false };
      if (existing.status === 'delivered') {
        throw businessFailure(
          BUSINESS_FAILURES.shipmentDelivered,
          `Shipment ${shipmentId} was delivered; it can no longer be cancelled.`,
          { shipmentId },
        );
      }
      await trx.raw(
        `UPDATE shipments SET status = 'cancelled', cancel_reason = ?, updated_at = now() WHERE shipment_id = ?`,
        [reason, shipmentId],
      );
      return { cancelled: true };
    });
  }

  /** Records the carrier's delivery. `delivered` is false when an earlier call already did. */
  async function markDelivered(input: MarkDeliveredInput): Promise<{ delivered: boolean }> {
    const shipmentId = requireText('shipmentId', input.shipmentId);
    return db.transaction(async (trx) => {
      const existing = await readShipment(trx, shipmentId, true);
      if (!existing) {
        throw businessFailure(BUSINESS_FAILURES.shipmentNotFound, `Shipment ${shipmentId} does not exist.`, { shipmentId });
      }
      if (existing.status === 'delivered') return { delivered: false };
      if (existing.status === 'cancelled') throw cancelledFailure(shipmentId, 'be delivered');
      await trx.raw(`UPDATE shipments SET status = 'delivered', updated_at = now() WHERE shipment_id = ?`, [shipmentId]);
      return { delivered: true };
    });
  }

  return { createShipment, cancelShipment, markDelivered };
}
