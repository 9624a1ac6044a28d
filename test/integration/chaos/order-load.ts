import { randomUUID } from 'node:crypto';
import { TERMINAL_STATUSES, type OrderStatus } from '../../../domain';
import type { ResilientApiClient } from './resilient-client';

/** The paths an order of the load takes; each ends in a known terminal state. */
export type OrderPlan = 'delivered' | 'out-of-stock' | 'declined' | 'cancelled' | 'undeliverable';

export const ORDER_PLANS: readonly OrderPlan[] = ['delivered', 'out-of-stock', 'declined', 'cancelled', 'undeliverable'];

export interface LoadCatalog {
  sku: { widget: string; gadget: string };
  /** Each SKU's stock at the start. */
  stock: number;
  tokens: { good: string; declines: string; undeliverable: string; operator: string };
}

export interface PlacedOrder {
  plan: OrderPlan;
  orderId: string;
  /** The status the read model showed at the end. */
  status: OrderStatus;
}

interface ReadView {
  status: OrderStatus;
  version: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Drives one order through the API as its plan says and waits until the read model shows it ended.
 * Every command carries an Idempotency-Key, so the client's retries across API restarts are safe.
 */
export async function placeOrder(api: ResilientApiClient, catalog: LoadCatalog, plan: OrderPlan, timeoutMs = 180_000): Promise<PlacedOrder> {
  const token = plan === 'declined' ? catalog.tokens.declines : plan === 'undeliverable' ? catalog.tokens.undeliverable : catalog.tokens.good;
  const key = randomUUID();
  const created = await api.expect<{ orderId: string }>([200, 201], token, 'POST', '/orders', { body: {}, idempotencyKey: `${key}-create` });
  const { orderId } = created.body;
  const widgets = plan === 'out-of-stock' ? catalog.stock + 1 : 1;
  await api.expect([200], token, 'POST', `/orders/${orderId}/items`, { body: { sku: catalog.sku.widget, quantity: widgets }, idempotencyKey: `${key}-widget` });
  await api.expect([200], token, 'POST', `/orders/${orderId}/items`, { body: { sku: catalog.sku.gadget, quantity: 1 }, idempotencyKey: `${key}-gadget` });
  await api.expect([200], token, 'POST', `/orders/${orderId}/submit`, { idempotencyKey: `${key}-submit` });

  let deliver = plan === 'delivered';
  if (plan === 'cancelled') {
    // Cancelled while the saga runs, so compensation has work to undo; too late (shipped) means delivered.
    const cancel = await api.expect([202, 409], token, 'POST', `/orders/${orderId}/cancel`, { body: { reason: 'chaos test' } });
    deliver = cancel.status === 409;
  }

  const deadline = Date.now() + timeoutMs;
  let delivering = false;
  for (;;) {
    const read = await api.call<ReadView>(token, 'GET', `/orders/${orderId}`);
    const status = read.status === 200 ? read.body.status : undefined;
    if (status && TERMINAL_STATUSES.includes(status)) return { plan, orderId, status };
    if (status === 'confirmed' && deliver && !delivering) {
      // A retried report of a delivery already taken answers 404 (the workflow ended): the read model tells.
      await api.expect([202, 404], catalog.tokens.operator, 'POST', `/orders/${orderId}/delivery`, { body: {} });
      delivering = true;
    }
    if (Date.now() > deadline) throw new Error(`order ${orderId} (${plan}) did not end within ${timeoutMs} ms; read model: ${status ?? `answer ${read.status}`}`);
    await sleep(200);
  }
}

/** Places `count` orders, cycling through the plans, with at most `concurrency` under way at once. */
export async function runOrderLoad(
  api: ResilientApiClient,
  catalog: LoadCatalog,
  count: number,
  concurrency: number,
): Promise<PlacedOrder[]> {
  const placed: PlacedOrder[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const plan = ORDER_PLANS[next++ % ORDER_PLANS.length]!;
        placed.push(await placeOrder(api, catalog, plan));
      }
    }),
  );
  return placed;
}

/** The terminal status each plan must end in (a cancellation that came too late ends delivered). */
export function expectedStatuses(plan: OrderPlan): OrderStatus[] {
  switch (plan) {
    case 'delivered':
      return ['delivered'];
    case 'cancelled':
      return ['cancelled', 'delivered'];
    default:
      return ['failed'];
  }
}
