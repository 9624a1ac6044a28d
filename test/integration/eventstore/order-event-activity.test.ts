import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { createOrderEventActivities, ORDER_EVENT_FAILURES } from '../../../activities/order-events';
import { createOrderEventStore } from '../../../composition/store';
import { orderStreamId, type OrderEvent } from '../../../domain';
import { openTestDatabase } from '../../support/postgres';

const created = (orderId: string, createdAt: string): OrderEvent => ({ type: 'OrderCreated', data: { orderId, customerId: 'c-1', currency: 'USD', createdAt } });
const added = (orderId: string, quantity: number): OrderEvent => ({
  type: 'OrderItemAdded',
  data: { orderId, sku: 'SKU-1', quantity, unitPrice: { amountMinor: 500, currency: 'USD' } },
});

describe('appendOrderEvents activity (real Postgres)', () => {
  let db: Knex;
  let activities: ReturnType<typeof createOrderEventActivities>;
  beforeAll(async () => {
    db = await openTestDatabase();
    activities = createOrderEventActivities(createOrderEventStore(db));
  });
  afterAll(() => db?.destroy());

  const storedTypes = async (orderId: string): Promise<string[]> =>
    (await db('events').where('stream_id', orderStreamId(orderId)).orderBy('stream_version')).map((row: { event_type: string }) => row.event_type);

  it('a retry of the same append is a duplicate that writes nothing', async () => {
    const orderId = randomUUID();
    const input = { orderId, expectedVersion: 0, events: [created(orderId, '2026-12-01T10:00:00.000Z')] };
    await expect(activities.appendOrderEvents(input)).resolves.toEqual({ version: 1, duplicate: false, published: false });
    await expect(activities.appendOrderEvents(input)).resolves.toEqual({ version: 1, duplicate: true, published: false });
    expect(await storedTypes(orderId)).toEqual(['OrderCreated']);
  });

  it('the same position with other content is refused, unless the caller adopts what is stored', async () => {
    const orderId = randomUUID();
    await activities.appendOrderEvents({ orderId, expectedVersion: 0, events: [created(orderId, '2026-12-01T10:00:00.000Z'), added(orderId, 1)] });
    // What a lost workflow task's successor asks: the same creation decided at another time.
    const again = { orderId, expectedVersion: 0, events: [created(orderId, '2026-12-01T10:00:05.000Z')] };
    const refusal = await activities.appendOrderEvents(again).catch((err: unknown) => err);
    expect(refusal).toBeInstanceOf(ApplicationFailure);
    expect(refusal).toMatchObject({ nonRetryable: true, type: ORDER_EVENT_FAILURES.invalidEvent });
    await expect(activities.appendOrderEvents({ ...again, adoptStored: true })).resolves.toEqual({
      version: 2,
      duplicate: true,
      published: false,
      stored: [created(orderId, '2026-12-01T10:00:00.000Z'), added(orderId, 1)],
    });
    // Behind the stream (no event id of its own stored): the same, from expectedVersion on.
    await expect(activities.appendOrderEvents({ orderId, expectedVersion: 1, events: [added(orderId, 1), added(orderId, 2)], adoptStored: true })).resolves.toMatchObject({
      version: 2,
      stored: [added(orderId, 1)],
    });
    expect(await storedTypes(orderId)).toEqual(['OrderCreated', 'OrderItemAdded']);
  });

  it('an append ahead of the stream is a conflict even when adopting: nothing there to adopt', async () => {
    const orderId = randomUUID();
    const ahead = await activities.appendOrderEvents({ orderId, expectedVersion: 3, events: [added(orderId, 1)], adoptStored: true }).catch((err: unknown) => err);
    expect(ahead).toMatchObject({ nonRetryable: true, type: ORDER_EVENT_FAILURES.concurrency });
    expect(await storedTypes(orderId)).toEqual([]);
  });
});
