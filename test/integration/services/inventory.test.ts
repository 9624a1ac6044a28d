import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { upsertProducts } from '../../../activities/catalog-seed';
import { BUSINESS_FAILURES } from '../../../activities/errors';
import { createInventoryActivities } from '../../../activities/inventory';
import { of as moneyOf } from '../../../domain/money';
import { openTestDatabase } from '../../support/postgres';

interface Stock {
  available: number;
  reserved: number;
  sold: number;
}

describe('inventory activities (real Postgres)', () => {
  let db: Knex;
  let inventory: ReturnType<typeof createInventoryActivities>;
  beforeAll(async () => {
    db = await openTestDatabase();
    inventory = createInventoryActivities(db);
  });
  afterAll(() => db?.destroy());

  /** A new product with its own SKU, so that tests never share stock. */
  async function newProduct(stock: number, priceMinor = 1000): Promise<string> {
    const sku = `T-${randomUUID()}`;
    await upsertProducts(db, [{ sku, name: `Test ${sku}`, unitPrice: moneyOf(priceMinor, 'EUR'), stock }]);
    return sku;
  }

  async function stockOf(sku: string): Promise<Stock> {
    const row = await db('products')
      .where({ sku })
      .first<{ stock_available: number; stock_reserved: number; stock_sold: number } | undefined>();
    if (!row) throw new Error(`no product ${sku}`);
    return { available: row.stock_available, reserved: row.stock_reserved, sold: row.stock_sold };
  }

  const total = (s: Stock): number => s.available + s.reserved + s.sold;

  async function reservationStatus(reservationId: string): Promise<string | undefined> {
    const row = await db('inventory_reservations').where({ reservation_id: reservationId }).first<{ status: string } | undefined>();
    return row?.status;
  }

  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }

  const ids = (): { reservationId: string; orderId: string } => ({ reservationId: `res-${randomUUID()}`, orderId: `ord-${randomUUID()}` });

  it('reserve, commit and release move units between available, reserved and sold and keep their sum', async () => {
    const [a, b] = [await newProduct(10), await newProduct(5)];
    const first = ids();
    const reserved = await inventory.reserveInventory({
      ...first,
      items: [
        { sku: b, quantity: 2 },
        { sku: a, quantity: 3 },
      ],
    });
    expect(reserved.reservationId).toBe(first.reservationId);
    expect(reserved.items).toEqual(
      [
        { sku: a, quantity: 3 },
        { sku: b, quantity: 2 },
      ].sort((x, y) => (x.sku < y.sku ? -1 : 1)),
    );
    expect(await stockOf(a)).toEqual({ available: 7, reserved: 3, sold: 0 });
    expect(await stockOf(b)).toEqual({ available: 3, reserved: 2, sold: 0 });

    await expect(inventory.commitReservation({ reservationId: first.reservationId })).resolves.toEqual({ committed: true });
    await expect(inventory.commitReservation({ reservationId: first.reservationId })).resolves.toEqual({ committed: false });
    expect(await stockOf(a)).toEqual({ available: 7, reserved: 0, sold: 3 });
    expect(await stockOf(b)).toEqual({ available: 3, reserved: 0, sold: 2 });
    expect(await reservationStatus(first.reservationId)).toBe('committed');

    const second = ids();
    await inventory.reserveInventory({ ...second, items: [{ sku: a, quantity: 4 }] });
    expect(await stockOf(a)).toEqual({ available: 3, reserved: 4, sold: 3 });
    await expect(inventory.releaseInventory({ reservationId: second.reservationId, reason: 'payment declined' })).resolves.toEqual({
      released: true,
    });
    await expect(inventory.releaseInventory({ reservationId: second.reservationId, reason: 'again' })).resolves.toEqual({
      released: false,
    });
    expect(await stockOf(a)).toEqual({ available: 7, reserved: 0, sold: 3 });
    expect(total(await stockOf(a))).toBe(10);
    expect(total(await stockOf(b))).toBe(5);
    expect(await reservationStatus(second.reservationId)).toBe('released');
  });

  it('sums repeated SKUs of one request', async () => {
    const sku = await newProduct(10);
    const result = await inventory.reserveInventory({
      ...ids(),
      items: [
        { sku, quantity: 1 },
        { sku, quantity: 2 },
      ],
    });
    expect(result.items).toEqual([{ sku, quantity: 3 }]);
    expect(await stockOf(sku)).toEqual({ available: 7, reserved: 3, sold: 0 });
  });

  it('out of stock is a non-retryable OutOfStock with sku, requested and available, and reserves nothing', async () => {
    const plenty = await newProduct(10);
    const scarce = await newProduct(1);
    const request = ids();
    const failure = await failureOf(
      inventory.reserveInventory({
        ...request,
        items: [
          { sku: plenty, quantity: 2 },
          { sku: scarce, quantity: 2 },
        ],
      }),
    );
    expect(failure.type).toBe(BUSINESS_FAILURES.outOfStock);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details).toEqual([{ sku: scarce, requested: 2, available: 1 }]);
    // All or nothing: the SKU that had stock is untouched, and the id is free for a later attempt.
    expect(await stockOf(plenty)).toEqual({ available: 10, reserved: 0, sold: 0 });
    expect(await reservationStatus(request.reservationId)).toBeUndefined();
  });

  it('the last unit goes to one order; the next fails with OutOfStock', async () => {
    const sku = await newProduct(1);
    await inventory.reserveInventory({ ...ids(), items: [{ sku, quantity: 1 }] });
    const failure = await failureOf(inventory.reserveInventory({ ...ids(), items: [{ sku, quantity: 1 }] }));
    expect(failure).toMatchObject({ type: 'OutOfStock', nonRetryable: true, details: [{ sku, requested: 1, available: 0 }] });
  });

  it('an unknown SKU is a non-retryable UnknownSku naming the SKU', async () => {
    const known = await newProduct(5);
    const unknown = `T-${randomUUID()}`;
    const failure = await failureOf(
      inventory.reserveInventory({
        ...ids(),
        items: [
          { sku: known, quantity: 1 },
          { sku: unknown, quantity: 1 },
        ],
      }),
    );
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.unknownSku, nonRetryable: true, details: [{ sku: unknown }] });
    expect(await stockOf(known)).toEqual({ available: 5, reserved: 0, sold: 0 });
  });

  it('malformed input is a non-retryable InvalidRequest', async () => {
    const sku = await newProduct(5);
    for (const items of [[], [{ sku, quantity: 0 }], [{ sku, quantity: 1.5 }], [{ sku: '', quantity: 1 }]]) {
      const failure = await failureOf(inventory.reserveInventory({ ...ids(), items }));
      expect(failure).toMatchObject({ type: BUSINESS_FAILURES.invalidRequest, nonRetryable: true });
    }
  });

  it('concurrent reserves with the same id reserve once and return the same result', async () => {
    const sku = await newProduct(10);
    const request = { ...ids(), items: [{ sku, quantity: 4 }] };
    const results = await Promise.all([inventory.reserveInventory(request), inventory.reserveInventory(request)]);
    expect(results[0]).toEqual(results[1]);
    expect(await inventory.reserveInventory(request)).toEqual(results[0]);
    expect(await stockOf(sku)).toEqual({ available: 6, reserved: 4, sold: 0 });
    expect(await db('inventory_reservations').where({ reservation_id: request.reservationId }).count<{ count: string }[]>('* as count'))
      .toEqual([{ count: '1' }]);
  });

  it('the same id with other items is a non-retryable IdempotencyConflict', async () => {
    const sku = await newProduct(10);
    const request = ids();
    await inventory.reserveInventory({ ...request, items: [{ sku, quantity: 1 }] });
    const failure = await failureOf(inventory.reserveInventory({ ...request, items: [{ sku, quantity: 2 }] }));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.idempotencyConflict, nonRetryable: true });
    expect(await stockOf(sku)).toEqual({ available: 9, reserved: 1, sold: 0 });
  });

  it('a release before the reserve leaves a tombstone: the late reserve fails with ReservationReleased', async () => {
    const sku = await newProduct(3);
    const request = ids();
    await expect(inventory.releaseInventory({ reservationId: request.reservationId, reason: 'order cancelled' })).resolves.toEqual({
      released: false,
    });
    await expect(inventory.releaseInventory({ reservationId: request.reservationId, reason: 'retry' })).resolves.toEqual({
      released: false,
    });
    expect(await reservationStatus(request.reservationId)).toBe('released');

    const failure = await failureOf(inventory.reserveInventory({ ...request, items: [{ sku, quantity: 1 }] }));
    expect(failure).toMatchObject({
      type: BUSINESS_FAILURES.reservationReleased,
      nonRetryable: true,
      details: [{ reservationId: request.reservationId }],
    });
    expect(await stockOf(sku)).toEqual({ available: 3, reserved: 0, sold: 0 });
  });

  it('a release racing its reserve either releases the reservation or blocks it; stock always ends whole', async () => {
    const sku = await newProduct(5);
    for (let round = 0; round < 10; round++) {
      const request = ids();
      const [reserve, release] = await Promise.allSettled([
        inventory.reserveInventory({ ...request, items: [{ sku, quantity: 1 }] }),
        inventory.releaseInventory({ reservationId: request.reservationId, reason: 'race' }),
      ]);
      if (reserve.status === 'fulfilled') {
        expect(release).toEqual({ status: 'fulfilled', value: { released: true } });
      } else {
        expect(reserve.reason).toMatchObject({ type: BUSINESS_FAILURES.reservationReleased });
        expect(release).toEqual({ status: 'fulfilled', value: { released: false } });
      }
      expect(await stockOf(sku)).toEqual({ available: 5, reserved: 0, sold: 0 });
    }
  });

  it('committing is refused for released and unknown reservations; releasing is refused once committed', async () => {
    const sku = await newProduct(5);
    const released = ids();
    await inventory.reserveInventory({ ...released, items: [{ sku, quantity: 1 }] });
    await inventory.releaseInventory({ reservationId: released.reservationId, reason: 'cancelled' });
    expect(await failureOf(inventory.commitReservation({ reservationId: released.reservationId }))).toMatchObject({
      type: BUSINESS_FAILURES.reservationReleased,
      nonRetryable: true,
    });
    expect(await failureOf(inventory.commitReservation({ reservationId: `res-${randomUUID()}` }))).toMatchObject({
      type: BUSINESS_FAILURES.reservationNotFound,
      nonRetryable: true,
    });

    const committed = ids();
    await inventory.reserveInventory({ ...committed, items: [{ sku, quantity: 2 }] });
    await inventory.commitReservation({ reservationId: committed.reservationId });
    expect(await failureOf(inventory.releaseInventory({ reservationId: committed.reservationId, reason: 'too late' }))).toMatchObject({
      type: BUSINESS_FAILURES.reservationCommitted,
      nonRetryable: true,
    });
    expect(await stockOf(sku)).toEqual({ available: 3, reserved: 0, sold: 2 });
  });

  it('concurrent reservations over the same SKUs in opposite orders neither deadlock nor oversell', async () => {
    const [a, b] = [await newProduct(5), await newProduct(5)];
    const attempts = Array.from({ length: 12 }, (_, i) =>
      inventory.reserveInventory({
        ...ids(),
        items:
          i % 2 === 0
            ? [
                { sku: a, quantity: 1 },
                { sku: b, quantity: 1 },
              ]
            : [
                { sku: b, quantity: 1 },
                { sku: a, quantity: 1 },
              ],
      }),
    );
    const outcomes = await Promise.allSettled(attempts);
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(5);
    expect(lost.map((o) => (o.reason as ApplicationFailure).type)).toEqual(Array(7).fill(BUSINESS_FAILURES.outOfStock));
    expect(await stockOf(a)).toEqual({ available: 0, reserved: 5, sold: 0 });
    expect(await stockOf(b)).toEqual({ available: 0, reserved: 5, sold: 0 });
  });

  it('getProduct returns the name and unit price as Money, or null', async () => {
    const sku = await newProduct(1, 4599);
    await expect(inventory.getProduct(sku)).resolves.toEqual({ sku, name: `Test ${sku}`, unitPrice: { amountMinor: 4599, currency: 'EUR' } });
    await expect(inventory.getProduct(`T-${randomUUID()}`)).resolves.toBeNull();
  });
});
