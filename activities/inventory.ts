import type { Knex } from 'knex';
import { createCatalogActivities } from './catalog';
import { BUSINESS_FAILURES, businessFailure, invalidRequest, requireText } from './errors';

/*
 * The inventory service: stock per SKU, moved between available, reserved and sold by reservations.
 * Every activity is one transaction. The reservation row is locked first, then the products in SKU
 * order (byte order, "C"), the same order in every transaction, so two reservations never deadlock.
 */

export interface ReservationItem {
  sku: string;
  quantity: number;
}

export interface ReserveInventoryInput {
  reservationId: string;
  orderId: string;
  items: ReservationItem[];
}

export interface ReserveInventoryResult {
  reservationId: string;
  /** One entry per SKU (repeated SKUs summed), in SKU order. */
  items: ReservationItem[];
}

export interface ReleaseInventoryInput {
  reservationId: string;
  reason: string;
}

export interface CommitReservationInput {
  reservationId: string;
}

export type { Product } from './catalog';

type ReservationStatus = 'reserved' | 'released' | 'committed';

interface ReservationRow {
  order_id: string | null;
  status: ReservationStatus;
  items: ReservationItem[];
}

interface StockRow {
  sku: string;
  stock_available: number;
}


const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sums repeated SKUs and sorts by SKU, so that equal requests store and return equal item lists. */
export function normaliseItems(items: unknown): ReservationItem[] {
  if (!Array.isArray(items) || items.length === 0) throw invalidRequest('at least one item is required');
  const quantities = new Map<string, number>();
  for (const entry of items as unknown[]) {
    const item: Partial<ReservationItem> = typeof entry === 'object' && entry !== null ? entry : {};
    const sku = requireText('sku', item.sku);
    const quantity = item.quantity;
    if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < 1) {
      throw invalidRequest(`the quantity of SKU "${sku}" must be a positive whole number, not ${String(quantity)}`);
    }
    quantities.set(sku, (quantities.get(sku) ?? 0) + quantity);
  }
  return [...quantities.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([sku, quantity]) => ({ sku, quantity }));
}

/** Whether two normalised item lists are equal. */
export function sameItems(a: readonly ReservationItem[], b: readonly ReservationItem[]): boolean {
  return a.length === b.length && a.every((item, i) => item.sku === b[i]?.sku && item.quantity === b[i]?.quantity);
}

async function lockReservation(trx: Knex.Transaction, reservationId: string): Promise<ReservationRow | undefined> {
  const { rows } = await trx.raw<{ rows: ReservationRow[] }>(
    `SELECT order_id, status, items FROM inventory_reservations WHERE reservation_id = ? FOR UPDATE`,
    [reservationId],
  );
  return rows[0];
}

/** Locks the products of `items` in SKU order and returns their available stock. */
async function lockProducts(trx: Knex.Transaction, items: readonly ReservationItem[]): Promise<Map<string, number>> {
  const { rows } = await trx.raw<{ rows: StockRow[] }>(
    `SELECT sku, stock_available FROM products WHERE sku = ANY (?::text[]) ORDER BY sku COLLATE "C" FOR UPDATE`,
    [items.map((item) => item.sku)],
  );
  return new Map(rows.map((row) => [row.sku, row.stock_available]));
}

/**
 * Moves `items` between two stock columns of products already locked. The column names come from
 * this module only, never from input.
 */
async function moveStock(
  trx: Knex.Transaction,
  items: readonly ReservationItem[],
  from: 'stock_available' | 'stock_reserved',
  to: 'stock_available' | 'stock_reserved' | 'stock_sold',
): Promise<void> {
  const result = await trx.raw<{ rowCount: number }>(
    `UPDATE products p
        SET ${from} = p.${from} - m.quantity, ${to} = p.${to} + m.quantity, updated_at = now()
       FROM jsonb_to_recordset(?::jsonb) AS m(sku text, quantity integer)
      WHERE p.sku = m.sku`,
    [JSON.stringify(items)],
  );
  // Products are never deleted, so a reservation's SKUs all exist; anything else is corruption to look at.
  if (result.rowCount !== items.length) {
    throw new Error(`stock of ${items.length} SKUs was to move but ${result.rowCount} products were found`);
  }
}

function checkAvailability(items: readonly ReservationItem[], available: ReadonlyMap<string, number>): void {
  for (const { sku } of items) {
    if (!available.has(sku)) {
      throw businessFailure(BUSINESS_FAILURES.unknownSku, `No product with SKU "${sku}" exists.`, { sku });
    }
  }
  for (const { sku, quantity } of items) {
    const onHand = available.get(sku) ?? 0;
    if (onHand < quantity) {
      throw businessFailure(
        BUSINESS_FAILURES.outOfStock,
        `SKU "${sku}" is out of stock: ${quantity} requested, ${onHand} available.`,
        { sku, requested: quantity, available: onHand },
      );
    }
  }
}

/** A reserve whose id is already stored: answer as the first one did, or refuse. */
function answerExisting(
  input: ReserveInventoryInput,
  items: ReservationItem[],
  existing: ReservationRow,
): ReserveInventoryResult {
  const { reservationId } = input;
  if (existing.status === 'released') {
    throw businessFailure(
      BUSINESS_FAILURES.reservationReleased,
      `Reservation ${reservationId} was released${existing.order_id === null ? ' before it was made' : ''}; it cannot reserve again.`,
      { reservationId },
    );
  }
  if (existing.order_id !== input.orderId || !sameItems(existing.items, items)) {
    throw businessFailure(
      BUSINESS_FAILURES.idempotencyConflict,
      `Reservation ${reservationId} already exists for other items or another order.`,
      { reservationId },
    );
  }
  return { reservationId, items: existing.items };
}

export function createInventoryActivities(db: Knex) {
  /** Reserves every item or none. Reserving again with the same id returns the first result. */
  async function reserveInventory(input: ReserveInventoryInput): Promise<ReserveInventoryResult> {
    const reservationId = requireText('reservationId', input.reservationId);
    requireText('orderId', input.orderId);
    const items = normaliseItems(input.items);
    return db.transaction(async (trx) => {
      // Claims the id; a concurrent reserve with the same id waits here until this one commits or rolls back.
      const claimed = await trx.raw<{ rows: unknown[] }>(
        `INSERT INTO inventory_reservations (reservation_id, order_id, status, items)
         VALUES (?, ?, 'reserved', ?::jsonb)
         ON CONFLICT (reservation_id) DO NOTHING
         RETURNING reservation_id`,
        [reservationId, input.orderId, JSON.stringify(items)],
      );
      if (claimed.rows.length === 0) {
        const existing = await lockReservation(trx, reservationId);
        if (!existing) throw new Error(`reservation ${reservationId} conflicted on insert but cannot be read`);
        return answerExisting(input, items, existing);
      }
      // A business failure rolls the claim back with everything else, so nothing of it stays.
      checkAvailability(items, await lockProducts(trx, items));
      await moveStock(trx, items, 'stock_available', 'stock_reserved');
      return { reservationId, items };
    });
  }

  /**
   * Returns a reservation's stock. Registered as a compensation before the reserve runs, so it copes
   * with a reservation that does not exist yet: it leaves a released tombstone that a late reserve
   * with this id runs into.
   */
  async function releaseInventory(input: ReleaseInventoryInput): Promise<{ released: boolean }> {
    const reservationId = requireText('reservationId', input.reservationId);
    const reason = requireText('reason', input.reason);
    return db.transaction(async (trx) => {
      const tombstone = await trx.raw<{ rows: unknown[] }>(
        `INSERT INTO inventory_reservations (reservation_id, order_id, status, release_reason)
         VALUES (?, NULL, 'released', ?)
         ON CONFLICT (reservation_id) DO NOTHING
         RETURNING reservation_id`,
        [reservationId, reason],
      );
      if (tombstone.rows.length > 0) return { released: false };

      const existing = await lockReservation(trx, reservationId);
      if (!existing) throw new Error(`reservation ${reservationId} conflicted on insert but cannot be read`);
      if (existing.status === 'released') return { released: false };
      if (existing.status === 'committed') {
        throw businessFailure(
          BUSINESS_FAILURES.reservationCommitted,
          `Reservation ${reservationId} is committed: its goods are sold and can only come back as a return.`,
          { reservationId },
        );
      }
      await lockProducts(trx, existing.items);
      await moveStock(trx, existing.items, 'stock_reserved', 'stock_available');
      await trx.raw(
        `UPDATE inventory_reservations SET status = 'released', release_reason = ?, updated_at = now()
          WHERE reservation_id = ?`,
        [reason, reservationId],
      );
      return { released: true };
    });
  }

  /** Turns reserved units into sold ones. `committed` is false when an earlier call already did. */
  async function commitReservation(input: CommitReservationInput): Promise<{ committed: boolean }> {
    const reservationId = requireText('reservationId', input.reservationId);
    return db.transaction(async (trx) => {
      const existing = await lockReservation(trx, reservationId);
      if (!existing) {
        throw businessFailure(BUSINESS_FAILURES.reservationNotFound, `Reservation ${reservationId} does not exist.`, {
          reservationId,
        });
      }
      if (existing.status === 'committed') return { committed: false };
      if (existing.status === 'released') {
        throw businessFailure(
          BUSINESS_FAILURES.reservationReleased,
          `Reservation ${reservationId} was released; it cannot be committed.`,
          { reservationId },
        );
      }
      await lockProducts(trx, existing.items);
      await moveStock(trx, existing.items, 'stock_reserved', 'stock_sold');
      await trx.raw(
        `UPDATE inventory_reservations SET status = 'committed', updated_at = now() WHERE reservation_id = ?`,
        [reservationId],
      );
      return { committed: true };
    });
  }

  return { reserveInventory, releaseInventory, commitReservation, ...createCatalogActivities(db) };
}
