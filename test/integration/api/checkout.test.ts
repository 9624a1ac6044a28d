import { randomUUID } from 'node:crypto';
import { orderRegistry, orderStreamId } from '../../../domain';
import { PostgresEventStore } from '../../../eventstore';
import { nameBasedUuid } from '../../../infra/ids';
import { orderWorkflowId } from '../../../workflows/order/contract';
import { http } from '../../support/api';
import { startApiStack, type ApiStack } from '../../support/api-stack';

interface Snapshot {
  orderId: string;
  status: string;
  version: number;
  total: { amountMinor: number; currency: string } | null;
  items: { sku: string; quantity: number }[];
}
interface Problem {
  status: number;
  code?: string;
}

describe('checkout in one call: POST /orders with lines (real stack)', () => {
  let stack: ApiStack;
  let store: PostgresEventStore;

  beforeAll(async () => {
    stack = await startApiStack(50);
    store = new PostgresEventStore(stack.db, orderRegistry(), { notifyAppends: false });
  }, 120_000);
  afterAll(async () => stack?.stop());

  const checkout = (body: unknown, key?: string) =>
    http<Snapshot & Problem>(stack.api, 'POST', '/orders', { token: stack.tokens.alice, body, headers: key ? { 'idempotency-key': key } : {} });
  const eventsOf = async (orderId: string) =>
    (await store.readStream(orderStreamId(orderId))).map((e) => ({ type: e.type, version: e.streamVersion, transactionId: e.transactionId }));
  /** The order id a customer's key makes (api/orders-gateway.ts): a refusal's answer names none. */
  const orderIdOfKey = (key: string) => nameBasedUuid('order', `${stack.catalog.customers.good}\u0000${key}`);

  it('creates, fills and submits the order (201), answers the same request again with it (200), in one append', async () => {
    const key = randomUUID();
    const body = { lines: [{ sku: stack.catalog.sku.widget, quantity: 2 }, { sku: stack.catalog.sku.gadget, quantity: 1 }], submit: true };

    const first = await checkout(body, key);

    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe(`/orders/${first.body.orderId}`);
    expect(first.body).toMatchObject({ status: 'submitted', version: 4, total: { amountMinor: 2 * 1250 + 999, currency: 'USD' } });
    const again = await checkout(body, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const id = first.body.orderId;
    const checkedOut = (await eventsOf(id)).slice(0, 4);
    expect(checkedOut.map(({ type, version }) => ({ type, version }))).toEqual([
      { type: 'OrderCreated', version: 1 },
      { type: 'OrderItemAdded', version: 2 },
      { type: 'OrderItemAdded', version: 3 },
      { type: 'OrderSubmitted', version: 4 },
    ]);
    // One append: one transaction wrote them all.
    expect(new Set(checkedOut.map((e) => e.transactionId)).size).toBe(1);
    const read = await http<{ status: string; version: number }>(stack.api, 'GET', `/orders/${id}?minVersion=4`, { token: stack.tokens.alice });
    expect(read.status).toBe(200);
    expect(read.body.version).toBeGreaterThanOrEqual(4);
  });

  it('creates a filled draft without submit, and checks out without a key (201)', async () => {
    const draft = await checkout({ lines: [{ sku: stack.catalog.sku.gadget, quantity: 3 }] });

    expect(draft.status).toBe(201);
    expect(draft.body).toMatchObject({ status: 'draft', version: 2, items: [{ sku: stack.catalog.sku.gadget, quantity: 3 }] });
    // The draft-editing routes still work on it.
    const submitted = await http<Snapshot>(stack.api, 'POST', `/orders/${draft.body.orderId}/submit`, { token: stack.tokens.alice });
    expect(submitted.body).toMatchObject({ status: 'submitted', version: 3 });
  });

  it.each([
    ['an unknown SKU', (sku: string) => ({ lines: [{ sku, quantity: 1 }, { sku: 'NO-SUCH-SKU', quantity: 1 }], submit: true }), 'UNKNOWN_SKU'],
    ['lines of one SKU above the limit', (sku: string) => ({ lines: [{ sku, quantity: 600 }, { sku, quantity: 600 }], submit: true }), 'INVALID_QUANTITY'],
    ['prices in another currency', (sku: string) => ({ currency: 'EUR', lines: [{ sku, quantity: 1 }], submit: true }), 'CURRENCY_MISMATCH'],
  ])('refuses %s with 422 and leaves no order behind, also when retried after the workflow closed', async (_, bodyOf, code) => {
    const key = randomUUID();
    const body = bodyOf(stack.catalog.sku.widget);

    const refused = await checkout(body, key);

    expect(refused.status).toBe(422);
    expect(refused.headers.get('content-type')).toMatch(/problem\+json/);
    expect(refused.body.code).toBe(code);
    const orderId = orderIdOfKey(key);
    expect((await http(stack.api, 'GET', `/orders/${orderId}`, { token: stack.tokens.alice })).status).toBe(404);
    expect(await eventsOf(orderId)).toEqual([]);
    const handle = stack.workers.client.workflow.getHandle(orderWorkflowId(orderId));
    await expect(handle.result()).resolves.toMatchObject({ status: 'none', failure: { step: 'checkout', reason: `checkout_refused: ${code}` } });
    expect((await handle.describe()).status.name).toBe('COMPLETED');

    const retried = await checkout(body, key);
    expect(retried.status).toBe(422);
    expect(retried.body.code).toBe(code);
    expect(await eventsOf(orderId)).toEqual([]);
  });

  it('refuses the same key with another body (422 IDEMPOTENCY_KEY_REUSED)', async () => {
    const key = randomUUID();
    expect((await checkout({ lines: [{ sku: stack.catalog.sku.widget, quantity: 1 }] }, key)).status).toBe(201);

    const other = await checkout({ lines: [{ sku: stack.catalog.sku.widget, quantity: 2 }] }, key);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const plain = await checkout({}, key);
    expect(plain.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const submitting = await checkout({ lines: [{ sku: stack.catalog.sku.widget, quantity: 1 }], submit: true }, key);
    expect(submitting.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('makes one order of concurrent requests with the same key', async () => {
    const key = randomUUID();
    const body = { lines: [{ sku: stack.catalog.sku.widget, quantity: 1 }], submit: true };

    const answers = await Promise.all(Array.from({ length: 6 }, () => checkout(body, key)));

    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const ids = new Set(answers.map((a) => a.body.orderId));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    expect((await eventsOf(id)).filter((e) => e.type === 'OrderCreated' || e.type === 'OrderItemAdded')).toHaveLength(2);
    for (const answer of answers) expect(answer.body).toEqual(answers[0]!.body);
  });

  it('refuses malformed lines with 400 before anything starts', async () => {
    expect((await checkout({ lines: [] })).status).toBe(400);
    expect((await checkout({ lines: [{ sku: stack.catalog.sku.widget, quantity: 0 }] })).status).toBe(400);
    expect((await checkout({ lines: [{ sku: stack.catalog.sku.widget }] })).status).toBe(400);
  });
});
