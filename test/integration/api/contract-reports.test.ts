import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { config } from '../../../config';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId } from '../../../workflows/order/contract';
import { http, startApi } from '../../support/api';
import { startApiStack, type ApiStack } from '../../support/api-stack';
import { temporalBinary } from '../../support/stack';

const run = promisify(execFile);

interface Snapshot {
  orderId: string;
  status: string;
  version: number;
  items: { sku: string; quantity: number }[];
}

const isProblem = (r: { status: number; headers: Headers; body: unknown }, status: number): void => {
  expect({ status: r.status, type: r.headers.get('content-type') }).toEqual({ status, type: expect.stringMatching(/^application\/problem\+json/) });
  expect(r.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
};

/** The reports of issue 13, each against the real API. */
describe('API contract: the reported 500s, refusals and idempotency', () => {
  let stack: ApiStack;
  beforeAll(async () => {
    stack = await startApiStack();
  }, 120_000);
  afterAll(() => stack?.stop());

  const order = async (token = stack.tokens.alice, key?: string): Promise<Snapshot> => {
    const r = await http<Snapshot>(stack.api, 'POST', '/orders', { token, body: {}, headers: key ? { 'idempotency-key': key } : {} });
    expect(r.status).toBe(201);
    return r.body;
  };

  it('answers 400, not 500, for a date PostgreSQL refuses, and an empty range for from after to', async () => {
    const { operator } = stack.tokens;
    isProblem(await http(stack.api, 'GET', '/analytics/daily-sales?from=2026-02-30&to=2026-03-01', { token: operator }), 400);
    isProblem(await http(stack.api, 'GET', '/analytics/daily-sales?from=0000-00-00&to=2026-03-01', { token: operator }), 400);
    const empty = await http(stack.api, 'GET', '/analytics/daily-sales?from=2026-03-02&to=2026-03-01', { token: operator });
    expect([empty.status, empty.body]).toEqual([200, []]);
    const top = await http(stack.api, 'GET', '/analytics/products/top?limit=99', { token: operator });
    expect(top.status).toBe(200);
  });

  it('answers 400, not 500, for a leap-second delivery time', async () => {
    const { orderId } = await order();
    isProblem(await http(stack.api, 'POST', `/orders/${orderId}/delivery`, { token: stack.tokens.operator, body: { deliveredAt: '2016-12-31T23:59:60Z' } }), 400);
  });

  it('takes no quantity that is not a JSON integer', async () => {
    const { orderId } = await order();
    for (const quantity of ['2', true, [3], '1e1']) {
      isProblem(await http(stack.api, 'POST', `/orders/${orderId}/items`, { token: stack.tokens.alice, body: { sku: stack.catalog.sku.widget, quantity } }), 400);
    }
  });

  it('refuses what the document refuses and accepts what it allows', async () => {
    const { operator } = stack.tokens;
    isProblem(await http(stack.api, 'POST', '/orders', { token: stack.tokens.alice, body: {}, headers: { 'idempotency-key': '' } }), 400);
    const noCustomer = await http<{ code: string }>(stack.api, 'POST', '/orders', { token: operator, body: {} });
    isProblem(noCustomer, 422);
    expect(noCustomer.body.code).toBe('CUSTOMER_REQUIRED');
    // A cursor is a position: one the API never issued still pages.
    const page = await http<{ orders: unknown[] }>(stack.api, 'GET', `/orders?cursor=1700000000000~${randomUUID()}`, { token: operator });
    expect(page.status).toBe(200);
    isProblem(await http(stack.api, 'GET', '/orders?cursor=garbage', { token: operator }), 400);
  });

  it('answers a just-created order and its events at once (the read model may lag)', async () => {
    const { orderId } = await order();
    const read = await http<{ orderId: string; status: string }>(stack.api, 'GET', `/orders/${orderId}`, { token: stack.tokens.alice });
    expect([read.status, read.body.orderId]).toEqual([200, orderId]);
    const events = await http(stack.api, 'GET', `/orders/${orderId}/events`, { token: stack.tokens.alice });
    expect(events.status).toBe(200);
    expect((await http(stack.api, 'GET', `/orders/${orderId}`, { token: stack.tokens.bob })).status).toBe(404);
  });

  it('POST /orders: the same key and request answers the first order; another request with it is 422, on any API instance', async () => {
    const key = randomUUID();
    const first = await order(stack.tokens.alice, key);
    const again = await http<Snapshot>(stack.api, 'POST', '/orders', { token: stack.tokens.alice, body: { currency: 'USD' }, headers: { 'idempotency-key': key } });
    expect([again.status, again.body.orderId]).toEqual([200, first.orderId]);
    // The operator ordering for the same customer with the same key asks for the same order.
    const byOperator = await http<Snapshot>(stack.api, 'POST', '/orders', {
      token: stack.tokens.operator,
      body: { customerId: stack.catalog.customers.good },
      headers: { 'idempotency-key': key },
    });
    expect([byOperator.status, byOperator.body.orderId]).toEqual([200, first.orderId]);

    // A second API instance (or this one restarted) knows the key too.
    const other = await startApi(stack.db, stack.workers.client);
    try {
      const reused = await http<{ idempotencyKey: string; detail: string }>(other, 'POST', '/orders', {
        token: stack.tokens.alice,
        body: { currency: 'EUR' },
        headers: { 'idempotency-key': key },
      });
      isProblem(reused, 422);
      expect(reused.body.idempotencyKey).toBe(key);
      expect(reused.body.detail).toContain(key);
    } finally {
      await other.close();
    }
    // The same key is another customer's own.
    expect((await http(stack.api, 'POST', '/orders', { token: stack.tokens.bob, body: { currency: 'EUR' }, headers: { 'idempotency-key': key } })).status).toBe(201);
  });

  it('POST /orders/{id}/items: the same key and body answers the first result; another body with it is 422', async () => {
    const { orderId } = await order();
    const key = randomUUID();
    const path = `/orders/${orderId}/items`;
    const body = { sku: stack.catalog.sku.widget, quantity: 2 };
    const first = await http<Snapshot>(stack.api, 'POST', path, { token: stack.tokens.alice, body, headers: { 'idempotency-key': key } });
    expect(first.status).toBe(200);
    const again = await http<Snapshot>(stack.api, 'POST', path, { token: stack.tokens.alice, body: { quantity: 2, sku: body.sku }, headers: { 'idempotency-key': key } });
    expect([again.status, again.body]).toEqual([200, first.body]);
    const other = await http<{ code: string }>(stack.api, 'POST', path, { token: stack.tokens.alice, body: { ...body, quantity: 3 }, headers: { 'idempotency-key': key } });
    isProblem(other, 422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // Nor may the key name another update of the same order.
    isProblem(await http(stack.api, 'DELETE', `${path}/${body.sku}`, { token: stack.tokens.alice, headers: { 'idempotency-key': key } }), 422);
    const live = await http<{ state: { items: Record<string, { quantity: number }> } }>(stack.api, 'GET', `/orders/${orderId}/workflow`, { token: stack.tokens.alice });
    expect(Object.values(live.body.state.items)).toEqual([
      expect.objectContaining({ quantity: 2 }),
    ]);
  });

  it('knows the owner of an order started outside the API before its first workflow task', async () => {
    // On a task queue nobody polls, the first workflow task never runs: no search attribute is ever set.
    const orderId = randomUUID();
    await stack.workers.client.workflow.start(ORDER_WORKFLOW_TYPE, {
      taskQueue: `nobody-polls-${orderId}`,
      workflowId: orderWorkflowId(orderId),
      args: [{ orderId, customerId: stack.catalog.customers.good, currency: 'USD' }],
    });
    try {
      const fresh = await startApi(stack.db, stack.workers.client);
      try {
        const events = await http(fresh, 'GET', `/orders/${orderId}/events`, { token: stack.tokens.alice });
        expect([events.status, events.body]).toEqual([200, []]);
        expect((await http(fresh, 'GET', `/orders/${orderId}/events`, { token: stack.tokens.bob })).status).toBe(404);
      } finally {
        await fresh.close();
      }
    } finally {
      await stack.workers.client.workflow.getHandle(orderWorkflowId(orderId)).terminate('test over');
    }
  });

  it('takes items for an order right after `temporal workflow start` (no 404 while the owner is unknown)', async () => {
    const orderId = randomUUID();
    await run(temporalBinary(), [
      'workflow', 'start', '--type', ORDER_WORKFLOW_TYPE, '--task-queue', 'orders', '--workflow-id', orderWorkflowId(orderId),
      '--input', JSON.stringify({ orderId, customerId: stack.catalog.customers.good, currency: 'USD' }),
      '--address', config().TEMPORAL_ADDRESS, '--namespace', config().TEMPORAL_NAMESPACE,
    ]);
    const fresh = await startApi(stack.db, stack.workers.client);
    try {
      const added = await http<Snapshot>(fresh, 'POST', `/orders/${orderId}/items`, { token: stack.tokens.alice, body: { sku: stack.catalog.sku.widget, quantity: 1 } });
      expect(added.status).toBe(200);
      expect(added.body.items).toEqual([expect.objectContaining({ sku: stack.catalog.sku.widget, quantity: 1 })]);
    } finally {
      await fresh.close();
    }
  });
});
