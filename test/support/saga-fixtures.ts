import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { upsertCustomers, upsertProducts, type CustomerSeed } from '../../activities/catalog-seed';
import { UNDELIVERABLE_POSTAL_CODE } from '../../activities/shipping';
import { PostgresEventStore } from '../../eventstore';
import { orderStreamId, type OrderState } from '../../domain';
import { orderRegistry } from '../../domain';
import { TASK_QUEUES } from '../../workflows/task-queues';
import {
  ORDER_WORKFLOW_TYPE,
  getOrderQuery,
  orderWorkflowId,
  type OrderOutcome,
  type OrderWorkflowInput,
} from '../../workflows/order/contract';

/** A catalog of its own for one test: unique SKUs and customers, so tests never share stock. */
export async function makeCatalog(db: Knex, stock = 5) {
  const tag = randomUUID().slice(0, 8);
  const sku = { widget: `WIDGET-${tag}`, gadget: `GADGET-${tag}` };
  await upsertProducts(db, [
    { sku: sku.widget, name: 'Widget', unitPrice: { amountMinor: 1250, currency: 'USD' }, stock },
    { sku: sku.gadget, name: 'Gadget', unitPrice: { amountMinor: 999, currency: 'USD' }, stock },
  ]);
  const customer = (name: string, behaviour: 'approve' | 'decline', postalCode = '10001'): CustomerSeed => ({
    customerId: `${name}-${tag}`,
    name,
    email: `${name}-${tag}@example.com`,
    shippingAddress: { line1: '1 Main St', city: 'New York', postalCode, country: 'US' },
    paymentMethod: { paymentMethodId: `pm-${name}-${tag}`, label: 'Test card', behaviour },
  });
  const customers = {
    good: customer('good', 'approve'),
    declines: customer('declines', 'decline'),
    undeliverable: customer('undeliverable', 'approve', UNDELIVERABLE_POSTAL_CODE),
  };
  await upsertCustomers(db, Object.values(customers));
  return { sku, customers: { good: customers.good.customerId, declines: customers.declines.customerId, undeliverable: customers.undeliverable.customerId } };
}

export async function startOrder(
  client: Client,
  customerId: string,
  extra: Partial<OrderWorkflowInput> = {},
): Promise<WorkflowHandle> {
  const orderId = randomUUID();
  return client.workflow.start(ORDER_WORKFLOW_TYPE, {
    taskQueue: TASK_QUEUES.orders,
    workflowId: orderWorkflowId(orderId),
    args: [{ orderId, customerId, currency: 'USD', ...extra } satisfies OrderWorkflowInput],
  });
}

export const orderIdOf = (handle: WorkflowHandle): string => handle.workflowId.replace(/^order-/, '');

export async function waitForStatus(handle: WorkflowHandle, statuses: OrderState['status'][], timeoutMs = 30_000): Promise<OrderState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(getOrderQuery);
    if (statuses.includes(state.status)) return state;
    if (Date.now() > deadline) throw new Error(`order stayed ${state.status}, expected ${statuses.join('|')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function eventTypes(db: Knex, handle: WorkflowHandle): Promise<string[]> {
  const store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
  return (await store.readStream(orderStreamId(orderIdOf(handle)))).map((e) => e.type);
}

export async function stockOf(db: Knex, sku: string): Promise<{ available: number; reserved: number; sold: number }> {
  const row = await db('products').where({ sku }).first<{ stock_available: number; stock_reserved: number; stock_sold: number }>();
  return { available: Number(row?.stock_available), reserved: Number(row?.stock_reserved), sold: Number(row?.stock_sold) };
}

export async function paymentsOf(db: Knex, orderId: string): Promise<{ status: string; amount_minor: string }[]> {
  return db('payments').where({ order_id: orderId }).select('status', 'amount_minor');
}

export type { OrderOutcome };
