import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { upsertCustomers } from '../../../activities/catalog-seed';
import { BUSINESS_FAILURES } from '../../../activities/errors';
import {
  createShippingActivities,
  trackingNumberFor,
  UNDELIVERABLE_POSTAL_CODE,
  type CreateShipmentInput,
  type ShippingAddress,
} from '../../../activities/shipping';
import { openTestDatabase } from '../../support/postgres';

const US_ADDRESS: ShippingAddress = { line1: '1 Test Street', city: 'Testville', postalCode: '12345', country: 'US' };

describe('shipping activities (real Postgres)', () => {
  let db: Knex;
  let shipping: ReturnType<typeof createShippingActivities>;
  beforeAll(async () => {
    db = await openTestDatabase();
    shipping = createShippingActivities(db);
  });
  afterAll(() => db?.destroy());

  async function newCustomer(shippingAddress: ShippingAddress | null = US_ADDRESS): Promise<string> {
    const customerId = `cust-${randomUUID()}`;
    await upsertCustomers(db, [
      { customerId, name: 'Test Customer', email: `${customerId}@example.test`, shippingAddress, paymentMethod: null },
    ]);
    return customerId;
  }

  const shipmentOf = (customerId: string): CreateShipmentInput => ({
    shipmentId: `shp-${randomUUID()}`,
    orderId: `ord-${randomUUID()}`,
    customerId,
    items: [{ sku: 'SKU-1', quantity: 2 }],
  });

  async function shipmentRows(shipmentId: string): Promise<Record<string, unknown>[]> {
    return db('shipments').where({ shipment_id: shipmentId }).select('*');
  }

  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ApplicationFailure)) throw new Error(`expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }

  it('books a shipment to the customer address with a tracking number derived from the shipment id', async () => {
    const input = shipmentOf(await newCustomer());
    const booked = await shipping.createShipment(input);
    expect(booked).toEqual({ shipmentId: input.shipmentId, carrier: 'UPS', trackingNumber: trackingNumberFor(input.shipmentId, '1Z') });
    expect(await shipmentRows(input.shipmentId)).toEqual([
      expect.objectContaining({ order_id: input.orderId, status: 'created', address: US_ADDRESS, items: input.items }),
    ]);
    const other = await shipping.createShipment(shipmentOf(input.customerId));
    expect(other.trackingNumber).not.toBe(booked.trackingNumber);
  });

  it('concurrent creates with one shipment id book once and agree', async () => {
    const input = shipmentOf(await newCustomer({ ...US_ADDRESS, country: 'DE', postalCode: '10115' }));
    const results = await Promise.all(Array.from({ length: 5 }, () => shipping.createShipment(input)));
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(results[0]?.carrier).toBe('DHL');
    expect(await shipmentRows(input.shipmentId)).toHaveLength(1);
    const conflict = await failureOf(shipping.createShipment({ ...input, orderId: `ord-${randomUUID()}` }));
    expect(conflict).toMatchObject({ type: BUSINESS_FAILURES.idempotencyConflict, nonRetryable: true });
  });

  it.each([
    ['a postal code carriers refuse', { ...US_ADDRESS, postalCode: UNDELIVERABLE_POSTAL_CODE }],
    ['a country no carrier serves', { ...US_ADDRESS, country: 'AQ' }],
    ['no address', null],
  ])('%s is a non-retryable UndeliverableAddress', async (_case, address) => {
    const input = shipmentOf(await newCustomer(address));
    const failure = await failureOf(shipping.createShipment(input));
    expect(failure).toMatchObject({
      type: BUSINESS_FAILURES.undeliverableAddress,
      nonRetryable: true,
      details: [{ customerId: input.customerId }],
    });
    expect(await shipmentRows(input.shipmentId)).toEqual([]);
  });

  it('an unknown customer is a non-retryable UnknownCustomer', async () => {
    const failure = await failureOf(shipping.createShipment(shipmentOf(`cust-${randomUUID()}`)));
    expect(failure).toMatchObject({ type: BUSINESS_FAILURES.unknownCustomer, nonRetryable: true });
  });

  it('cancels a shipment once', async () => {
    const input = shipmentOf(await newCustomer());
    await shipping.createShipment(input);
    await expect(shipping.cancelShipment({ shipmentId: input.shipmentId, reason: 'order cancelled' })).resolves.toEqual({ cancelled: true });
    await expect(shipping.cancelShipment({ shipmentId: input.shipmentId, reason: 'retry' })).resolves.toEqual({ cancelled: false });
    expect(await shipmentRows(input.shipmentId)).toEqual([
      expect.objectContaining({ status: 'cancelled', cancel_reason: 'order cancelled' }),
    ]);
    expect(await failureOf(shipping.markDelivered({ shipmentId: input.shipmentId }))).toMatchObject({
      type: BUSINESS_FAILURES.shipmentCancelled,
      nonRetryable: true,
    });
  });

  it('a cancel before the create leaves a tombstone: the late create fails with ShipmentCancelled', async () => {
    const input = shipmentOf(await newCustomer());
    await expect(shipping.cancelShipment({ shipmentId: input.shipmentId, reason: 'order cancelled' })).resolves.toEqual({ cancelled: false });
    expect(await failureOf(shipping.createShipment(input))).toMatchObject({
      type: BUSINESS_FAILURES.shipmentCancelled,
      nonRetryable: true,
      details: [{ shipmentId: input.shipmentId }],
    });
    expect(await shipmentRows(input.shipmentId)).toEqual([
      expect.objectContaining({ status: 'cancelled', tracking_number: null, order_id: null }),
    ]);
  });

  it('marks a shipment delivered once; a delivered shipment cannot be cancelled', async () => {
    const input = shipmentOf(await newCustomer());
    await shipping.createShipment(input);
    await expect(shipping.markDelivered({ shipmentId: input.shipmentId })).resolves.toEqual({ delivered: true });
    await expect(shipping.markDelivered({ shipmentId: input.shipmentId })).resolves.toEqual({ delivered: false });
    expect(await failureOf(shipping.cancelShipment({ shipmentId: input.shipmentId, reason: 'too late' }))).toMatchObject({
      type: BUSINESS_FAILURES.shipmentDelivered,
      nonRetryable: true,
    });
    expect(await failureOf(shipping.markDelivered({ shipmentId: `shp-${randomUUID()}` }))).toMatchObject({
      type: BUSINESS_FAILURES.shipmentNotFound,
      nonRetryable: true,
    });
  });
});
