import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { Client, Connection } from '@temporalio/client';
import * as fc from 'fast-check';
import { PostgresEventStore, listenForAppends, saveCheckpoint, type Subscription } from '../../../eventstore';
import { createPgClient } from '../../../infra';
import { ProjectionRunner, startSubscriptionProjector, PROJECTION_NAMES } from '../../../projections';
import { orderRegistry } from '../../../domain';
import { openTestDatabase } from '../../support/postgres';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { makeCatalog } from '../../support/saga-fixtures';
import { customerToken, http, operatorToken, startApi, type RunningApi } from '../../support/api';

interface Snapshot {
  orderId: string;
  status: string;
  version: number;
  total: { amountMinor: number; currency: string } | null;
  items: { sku: string; quantity: number }[];
}

describe('HTTP API against the real stack', () => {
  let db: Knex;
  let workers: RunningWorkers;
  let api: RunningApi;
  let catalog: Awaited<ReturnType<typeof makeCatalog>>;
  let listener: PgClient;
  const projectors: Subscription[] = [];
  let operator: string;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    db = await openTestDatabase();
    workers = await runWorkers(db);
    catalog = await makeCatalog(db, 50);
    // The read models follow the event store here; the broker-fed projectors are tested on their own.
    const store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
    listener = await listenForAppends(createPgClient('api-test-listener'));
    const runner = new ProjectionRunner({ db, store });
    // This suite reads only its own orders: its projectors start at the head of the log instead of
    // catching up on every order earlier runs left in the shared database.
    const head = await store.headCheckpoint();
    for (const name of PROJECTION_NAMES) {
      await saveCheckpoint(db, `projection:public.${name}`, head);
      projectors.push(await startSubscriptionProjector(name, { db, store, runner, listener, maxPollIntervalMs: 200 }));
    }
    api = await startApi(db, workers.client);
    operator = await operatorToken(db);
    alice = await customerToken(db, catalog.customers.good);
    bob = await customerToken(db, catalog.customers.declines);
  }, 120_000);

  afterAll(async () => {
    await api?.close();
    for (const p of projectors) await p.stop();
    await listener?.end();
    await workers?.stop();
    await db?.destroy();
  });

  async function placeOrder(token = alice, key = randomUUID()): Promise<Snapshot> {
    const created = await http<Snapshot>(api, 'POST', '/orders', { token, body: { currency: 'USD' }, headers: { 'idempotency-key': key } });
    expect(created.status).toBe(201);
    return created.body;
  }

  it('runs an order end to end: create (idempotent), add, remove, submit, deliver; reads it back with read-your-writes', async () => {
    const key = randomUUID();
    const first = await http<Snapshot>(api, 'POST', '/orders', { token: alice, body: {}, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/orders/${first.body.orderId}`);
    expect(first.headers.get('content-type')).toMatch(/json/);
    const retry = await http<Snapshot>(api, 'POST', '/orders', { token: alice, body: {}, headers: { 'idempotency-key': key } });
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    const id = first.body.orderId;

    const added = await http<Snapshot>(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: catalog.sku.widget, quantity: 2 } });
    expect(added.status).toBe(200);
    expect(added.body.items).toEqual([{ sku: catalog.sku.widget, quantity: 2, unitPrice: { amountMinor: 1250, currency: 'USD' } }]);
    await http(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: catalog.sku.gadget, quantity: 1 } });
    const removed = await http<Snapshot>(api, 'DELETE', `/orders/${id}/items/${catalog.sku.gadget}`, { token: alice });
    expect(removed.body.items.map((i) => i.sku)).toEqual([catalog.sku.widget]);

    const submitted = await http<Snapshot>(api, 'POST', `/orders/${id}/submit`, { token: alice });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toMatchObject({ status: 'submitted', total: { amountMinor: 2500, currency: 'USD' } });

    // Read-your-writes: the read model answers at least at the version the command returned.
    const read = await http<{ version: number; status: string }>(api, 'GET', `/orders/${id}?minVersion=${submitted.body.version}`, { token: alice });
    expect(read.status).toBe(200);
    expect(read.body.version).toBeGreaterThanOrEqual(submitted.body.version);
    expect(read.headers.get('etag')).toBe(`"v${read.body.version}"`);

    const live = await http<{ state: { status: string }; progress: { done: string[] } }>(api, 'GET', `/orders/${id}/workflow`, { token: alice });
    expect(live.status).toBe(200);

    await waitFor(async () => (await http<{ status: string }>(api, 'GET', `/orders/${id}`, { token: alice })).body.status === 'confirmed');
    expect((await http(api, 'POST', `/orders/${id}/delivery`, { token: alice, body: {} })).status).toBe(403);
    expect((await http(api, 'POST', `/orders/${id}/delivery`, { token: operator, body: {} })).status).toBe(202);
    await waitFor(async () => (await http<{ status: string }>(api, 'GET', `/orders/${id}`, { token: alice })).body.status === 'delivered');

    const events = await http<{ type: string; version: number }[]>(api, 'GET', `/orders/${id}/events`, { token: alice });
    expect(events.body.map((e) => e.type).slice(0, 2)).toEqual(['OrderCreated', 'OrderItemAdded']);
    expect(events.body.at(-1)?.type).toBe('OrderDelivered');
    expect(live.body.progress.done).toEqual(expect.any(Array));
  });

  it('lists orders with keyset pagination, only the caller’s own for customers', async () => {
    for (let i = 0; i < 3; i++) await placeOrder(bob);
    await waitFor(async () => {
      const page = await http<{ orders: unknown[] }>(api, 'GET', '/orders?limit=100', { token: bob });
      return page.body.orders.length >= 3;
    });
    const first = await http<{ orders: { orderId: string; customerId: string }[]; nextCursor: string | null }>(api, 'GET', '/orders?limit=2', { token: bob });
    expect(first.status).toBe(200);
    expect(first.body.orders).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await http<{ orders: { orderId: string; customerId: string }[] }>(api, 'GET', `/orders?limit=2&cursor=${first.body.nextCursor}`, { token: bob });
    const ids = [...first.body.orders, ...second.body.orders].map((o) => o.orderId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const o of [...first.body.orders, ...second.body.orders]) expect(o.customerId).toBe(catalog.customers.declines);
    expect((await http(api, 'GET', `/orders?customerId=${catalog.customers.good}`, { token: bob })).status).toBe(403);
    const operatorView = await http<{ orders: unknown[] }>(api, 'GET', `/orders?customerId=${catalog.customers.declines}&status=draft`, { token: operator });
    expect(operatorView.body.orders.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses cross-customer access with 404, as if the order did not exist', async () => {
    const order = await placeOrder(alice);
    await waitFor(async () => (await http(api, 'GET', `/orders/${order.orderId}`, { token: alice })).status === 200);
    expect((await http(api, 'GET', `/orders/${order.orderId}`, { token: bob })).status).toBe(404);
    expect((await http(api, 'GET', `/orders/${order.orderId}/events`, { token: bob })).status).toBe(404);
    expect((await http(api, 'GET', `/orders/${order.orderId}/workflow`, { token: bob })).status).toBe(404);
    expect((await http(api, 'POST', `/orders/${order.orderId}/items`, { token: bob, body: { sku: catalog.sku.widget, quantity: 1 } })).status).toBe(404);
    expect((await http(api, 'POST', `/orders/${order.orderId}/cancel`, { token: bob, body: {} })).status).toBe(404);
  });

  it('answers every error class as problem+json', async () => {
    const problem = (r: { status: number; headers: Headers; body: unknown }, status: number): void => {
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
    };
    const order = await placeOrder(alice);
    const id = order.orderId;

    problem(await http(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: catalog.sku.widget } }), 400);
    problem(await http(api, 'POST', `/orders/${id}/items`, { token: alice, rawBody: '{not json', headers: { 'content-type': 'application/json' } }), 400);
    problem(await http(api, 'GET', '/orders?cursor=garbage', { token: alice }), 400);
    problem(await http(api, 'GET', `/orders/${id}`), 401);
    problem(await http(api, 'GET', `/orders/${id}`, { token: 'oot_nope_nope' }), 401);
    problem(await http(api, 'GET', '/analytics/products/top', { token: alice }), 403);
    problem(await http(api, 'GET', `/orders/${randomUUID()}`, { token: operator }), 404);
    problem(await http(api, 'POST', `/orders/${randomUUID()}/submit`, { token: operator }), 404);
    problem(await http(api, 'GET', '/no/such/route', { token: alice }), 404);

    const empty = await http<{ code: string }>(api, 'POST', `/orders/${id}/submit`, { token: alice });
    problem(empty, 422);
    expect(empty.body.code).toBe('ORDER_EMPTY');
    const unknownSku = await http<{ code: string }>(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: 'NO-SUCH-SKU', quantity: 1 } });
    problem(unknownSku, 422);
    expect(unknownSku.body.code).toBe('UNKNOWN_SKU');

    await http(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: catalog.sku.widget, quantity: 1 } });
    await http(api, 'POST', `/orders/${id}/submit`, { token: alice });
    const afterSubmit = await http<{ code: string }>(api, 'POST', `/orders/${id}/items`, { token: alice, body: { sku: catalog.sku.widget, quantity: 1 } });
    problem(afterSubmit, 409);
    expect(afterSubmit.body.code).toBe('ORDER_NOT_DRAFT');

    problem(await http(api, 'POST', `/orders/${id}/items`, { token: alice, rawBody: JSON.stringify({ sku: 'x'.repeat(200_000), quantity: 1 }), headers: { 'content-type': 'application/json' } }), 413);

    // 503: the same API with Temporal unreachable.
    const deadTemporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 500 }) });
    const down = await startApi(db, deadTemporal, { temporal: () => Promise.reject(new Error('unreachable')) });
    try {
      const r = await http(down, 'POST', '/orders', { token: alice, body: {} });
      problem(r, 503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect((await http(down, 'GET', '/health/ready')).status).toBe(503);
    } finally {
      await down.close();
    }
  });

  it('cancels an unshipped order (202) and refuses one that shipped (409)', async () => {
    const order = await placeOrder(alice);
    expect((await http(api, 'POST', `/orders/${order.orderId}/cancel`, { token: alice, body: { reason: 'no longer needed' } })).status).toBe(202);
    await waitFor(async () => (await http<{ status: string }>(api, 'GET', `/orders/${order.orderId}`, { token: alice })).body.status === 'cancelled');

    const shipped = await placeOrder(alice);
    await http(api, 'POST', `/orders/${shipped.orderId}/items`, { token: alice, body: { sku: catalog.sku.widget, quantity: 1 } });
    await http(api, 'POST', `/orders/${shipped.orderId}/submit`, { token: alice });
    await waitFor(async () => (await http<{ status: string }>(api, 'GET', `/orders/${shipped.orderId}`, { token: alice })).body.status === 'confirmed');
    const refused = await http<{ code: string }>(api, 'POST', `/orders/${shipped.orderId}/cancel`, { token: alice, body: {} });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CANNOT_CANCEL');
  });

  it('serves analytics, OpenAPI, docs, health and metrics', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const sales = await http<{ day: string; ordersPlaced: number }[]>(api, 'GET', `/analytics/daily-sales?from=${today}&to=${today}`, { token: operator });
    expect(sales.status).toBe(200);
    expect(sales.body.some((d) => d.day === today && d.ordersPlaced > 0)).toBe(true);
    expect((await http(api, 'GET', '/analytics/daily-sales?from=2026-02-30&to=nope', { token: operator })).status).toBe(400);
    const top = await http<{ sku: string }[]>(api, 'GET', '/analytics/products/top?limit=5', { token: operator });
    expect(top.status).toBe(200);

    const spec = await http<{ openapi: string; paths: Record<string, unknown> }>(api, 'GET', '/openapi.json');
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/orders', '/orders/{id}', '/orders/{id}/items', '/analytics/daily-sales']));
    expect((await fetch(`${api.url}/docs`, { redirect: 'follow' })).status).toBe(200);
    expect((await http(api, 'GET', '/health/live')).status).toBe(200);
    const metrics = await http<string>(api, 'GET', '/metrics');
    expect(metrics.body).toContain('http_request_duration_seconds');
  });

  it('never answers 5xx to malformed bodies, ids and headers (property-based)', async () => {
    const order = await placeOrder(alice);
    const paths = ['/orders', `/orders/${order.orderId}/items`, `/orders/${order.orderId}/cancel`, `/orders/${order.orderId}/submit`];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths, '/orders/%00', `/orders/${'a'.repeat(300)}`, '/orders/../../etc', '/orders/%ZZ/items'),
        fc.oneof(fc.json(), fc.string(), fc.constant('{"sku":null,"quantity":"1e400"}'), fc.constant('[]')),
        fc.dictionary(fc.constantFrom('idempotency-key', 'content-type', 'if-none-match', 'x-request-id'), fc.string({ maxLength: 300 })),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        async (path, rawBody, extraHeaders, method) => {
          const headers = Object.fromEntries(Object.entries(extraHeaders).filter(([, v]) => /^[\x20-\x7e]*$/.test(v)));
          headers['content-type'] ??= 'application/json';
          const r = await http(api, method, path, { token: alice, rawBody: method === 'GET' ? undefined : rawBody, headers });
          expect(r.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
