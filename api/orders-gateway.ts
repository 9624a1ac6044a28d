import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { nameBasedUuid } from '../infra/ids';
import { context, traceparentOf, tracingActive, withOrderId } from '../infra/tracing';
import { isWorkflowClosedError } from './errors';
import { config } from '../config';
import { TASK_QUEUES } from '../workflows/task-queues';
import { CustomerIdKey, OrderStatusKey, OrderTotalKey } from '../workflows/search-attributes';
import {
  ORDER_WORKFLOW_TYPE,
  addItemUpdate,
  cancelOrderUpdate,
  checkoutUpdate,
  getOrderQuery,
  getSagaProgressQuery,
  orderDeliveredSignal,
  orderSnapshot,
  orderWorkflowId,
  removeItemUpdate,
  submitOrderUpdate,
  type CheckoutInput,
  type OrderSnapshot,
  type OrderWorkflowInput,
} from '../workflows/order/contract';
import { decide, initialOrderState, orderStateFrom, type OrderState, type OrderStatus, type SagaProgress } from '../domain';

const QUICK_MS = 5_000;
/** The workflow memo field that keeps the traceparent of the order's root span. */
export const TRACEPARENT_MEMO = 'traceparent';
const UPDATE_MS = 30_000;

/** A cancel request's answer: taken (the order will end cancelled), or refused in the status it has. */
export type CancelResult = { accepted: true; status: OrderStatus } | { accepted: false; status: OrderStatus; detail: string };

export interface StartResult {
  created: boolean;
  snapshot: OrderSnapshot;
}

/** With an idempotency key the order id derives from (customer, key): a retried request finds its order. */
function orderIdFor(customerId: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? nameBasedUuid('order', `${customerId}\u0000${idempotencyKey}`) : randomUUID();
}

/**
 * The write side of the API: every command goes to the order's workflow. Nothing here touches the
 * read models.
 */
/** Owners remembered; an order's owner never changes, so a remembered one is never stale. */
const MAX_REMEMBERED_OWNERS = 100_000;

export class OrdersGateway {
  private readonly owners = new Map<string, string>();
  /** Each order's root traceparent (its POST /orders span), or null for an order started without one. */
  private readonly traceRoots = new Map<string, string | null>();

  constructor(private readonly client: Client) {}

  private rememberOwner(orderId: string, customerId: string): void {
    // Oldest first out (Map keeps insertion order): a bound, not an LRU, is enough for a hint cache.
    if (this.owners.size >= MAX_REMEMBERED_OWNERS) this.owners.delete(this.owners.keys().next().value!);
    this.owners.set(orderId, customerId);
  }

  private rememberTraceRoot(orderId: string, traceparent: string | null): void {
    if (this.traceRoots.size >= MAX_REMEMBERED_OWNERS) this.traceRoots.delete(this.traceRoots.keys().next().value!);
    this.traceRoots.set(orderId, traceparent);
  }

  /**
   * The traceparent of the order's root span, kept in its workflow's memo: later requests for the
   * order join its trace. Undefined when tracing is off, the order has none, or it cannot be read now
   * (the request itself then answers whatever is wrong).
   */
  async traceRoot(orderId: string): Promise<string | undefined> {
    if (!tracingActive()) return undefined;
    if (!this.traceRoots.has(orderId)) {
      try {
        await this.describeOrder(orderId);
      } catch {
        return undefined;
      }
    }
    return this.traceRoots.get(orderId) ?? undefined;
  }

  /**
   * Every call has a deadline: with Temporal down, a request fails fast with 503 instead of hanging.
   * Updates get longer, as their handlers run activities (the catalog lookup, the event append).
   */
  private within<T>(ms: number, call: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + ms, call);
  }

  private handle(orderId: string): WorkflowHandle {
    return this.client.workflow.getHandle(orderWorkflowId(orderId));
  }

  /**
   * Starts an order. With an idempotency key the order id derives from (customer, key), so a retried
   * request finds the order it already made instead of making a second one.
   */
  async start(input: { customerId: string; currency: string; idempotencyKey?: string; correlationId: string }): Promise<StartResult> {
    const orderId = orderIdFor(input.customerId, input.idempotencyKey);
    const args = workflowInput(orderId, input);
    // The request's span is the order's root: its traceparent goes into the memo (see traceRoot).
    const traceparent = traceparentOf();
    let created = true;
    try {
      // The client's span of the start is the order's too: it carries its id.
      await this.within(QUICK_MS, () => context.with(withOrderId(context.active(), orderId), () => this.client.workflow.start(ORDER_WORKFLOW_TYPE, {
        taskQueue: TASK_QUEUES.orders,
        workflowId: orderWorkflowId(orderId),
        args: [args],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // Set at start so the order is findable (and its owner known) before its first workflow task;
        // they are what its creation makes them, so the workflow need not upsert them (a history event).
        typedSearchAttributes: [
          { key: CustomerIdKey, value: input.customerId },
          { key: OrderStatusKey, value: 'draft' },
          { key: OrderTotalKey, value: 0 },
        ],
        staticSummary: `Order ${orderId} of ${input.customerId}`,
        ...(traceparent ? { memo: { [TRACEPARENT_MEMO]: traceparent } } : {}),
      })));
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || !input.idempotencyKey) throw err;
      created = false;
    }
    if (created) {
      this.rememberOwner(orderId, input.customerId);
      this.rememberTraceRoot(orderId, traceparent ?? null);
    }
    // A new order is exactly what the domain decides for its creation: no need to ask the workflow.
    const snapshot = created
      ? orderSnapshot(orderStateFrom(decide({ type: 'CreateOrder', data: { orderId, customerId: input.customerId, currency: input.currency, now: new Date().toISOString() } }, initialOrderState)))
      : orderSnapshot(await this.state(orderId));
    return { created, snapshot };
  }

  /**
   * Checkout in one call: Update-with-Start of a workflow that leaves its creation to the checkout, so
   * the order is created, filled (and submitted) in one append, or not at all (the update's refusal).
   * With an idempotency key the order id and the update id derive from it: a retry attaches to the
   * same workflow (USE_EXISTING) and Temporal answers the same update id with the first answer, also
   * once the workflow has closed (the server returns a closed run's completed update).
   */
  async checkout(input: {
    customerId: string;
    currency: string;
    checkout: CheckoutInput;
    idempotencyKey?: string;
    correlationId: string;
  }): Promise<OrderSnapshot> {
    const orderId = orderIdFor(input.customerId, input.idempotencyKey);
    const args = { ...workflowInput(orderId, input), createdByCheckout: true };
    const startWorkflowOperation = new WithStartWorkflowOperation(ORDER_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUES.orders,
      workflowId: orderWorkflowId(orderId),
      args: [args],
      workflowIdConflictPolicy: input.idempotencyKey ? 'USE_EXISTING' : 'FAIL',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // No OrderStatus yet: the workflow sets it once the checkout is recorded (a refused one records none).
      typedSearchAttributes: [{ key: CustomerIdKey, value: input.customerId }],
      staticSummary: `Order ${orderId} of ${input.customerId}`,
    });
    const snapshot = await this.within(UPDATE_MS, () =>
      this.client.workflow.executeUpdateWithStart(checkoutUpdate, {
        args: [input.checkout],
        ...(input.idempotencyKey ? { updateId: `checkout:${input.idempotencyKey}` } : {}),
        startWorkflowOperation,
      }),
    );
    this.rememberOwner(orderId, input.customerId);
    return snapshot;
  }

  /**
   * The order's owner, from the workflow's search attributes (no worker needed); remembered, as it
   * never changes, which spares the server a describe call on every command. A workflow started
   * without them (e.g. by `temporal workflow start`) has none until its first workflow task upserts
   * them: its start input names the customer from the first moment, so that is read instead.
   * Undefined only for a workflow that names no customer at all.
   */
  async ownerOf(orderId: string): Promise<string | undefined> {
    const known = this.owners.get(orderId);
    if (known !== undefined) return known;
    return this.describeOrder(orderId);
  }

  /** Reads the order's owner and trace root from its workflow, and remembers them. */
  private async describeOrder(orderId: string): Promise<string | undefined> {
    const description = await this.within(QUICK_MS, () => this.handle(orderId).describe());
    const root = description.memo?.[TRACEPARENT_MEMO];
    this.rememberTraceRoot(orderId, typeof root === 'string' ? root : null);
    const owner = description.typedSearchAttributes.get(CustomerIdKey) ?? (await this.ownerFromStartInput(orderId, description.runId));
    if (owner !== undefined) this.rememberOwner(orderId, owner);
    return owner;
  }

  /** The customerId of the workflow's input, from the first event of its history. */
  private async ownerFromStartInput(orderId: string, runId: string): Promise<string | undefined> {
    const { namespace, loadedDataConverter } = this.client.options;
    const history = await this.within(QUICK_MS, () =>
      this.client.workflowService.getWorkflowExecutionHistory({
        namespace,
        execution: { workflowId: orderWorkflowId(orderId), runId },
        maximumPageSize: 1,
      }),
    );
    const started = history.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.input?.payloads?.length) return undefined;
    const input = await decodeFromPayloadsAtIndex<Partial<OrderWorkflowInput> | null>(loadedDataConverter, 0, started.input.payloads);
    return typeof input?.customerId === 'string' ? input.customerId : undefined;
  }

  state(orderId: string): Promise<OrderState> {
    return this.within(QUICK_MS, () => this.handle(orderId).query(getOrderQuery));
  }

  progress(orderId: string): Promise<SagaProgress> {
    return this.within(QUICK_MS, () => this.handle(orderId).query(getSagaProgressQuery));
  }

  addItem(orderId: string, item: { sku: string; quantity: number }, updateId?: string): Promise<OrderSnapshot> {
    return this.within(UPDATE_MS, () => this.handle(orderId).executeUpdate(addItemUpdate, { args: [item], updateId }));
  }

  removeItem(orderId: string, sku: string, updateId?: string): Promise<OrderSnapshot> {
    return this.within(UPDATE_MS, () => this.handle(orderId).executeUpdate(removeItemUpdate, { args: [{ sku }], updateId }));
  }

  submit(orderId: string, updateId?: string): Promise<OrderSnapshot> {
    return this.within(UPDATE_MS, () => this.handle(orderId).executeUpdate(submitOrderUpdate, { updateId }));
  }

  /**
   * Asks the workflow to cancel, as an update: it answers only once the workflow has taken the cancel,
   * and its validator (the domain's rule) refuses one that can no longer happen. The update id makes a
   * retried request the same request.
   */
  async cancel(orderId: string, reason: string | undefined, updateId?: string): Promise<CancelResult> {
    try {
      const taken = await this.within(UPDATE_MS, () =>
        this.handle(orderId).executeUpdate(cancelOrderUpdate, { args: [reason === undefined ? {} : { reason }], updateId }),
      );
      return { accepted: true, status: taken.status };
    } catch (err) {
      const refusal = err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure ? err.cause : undefined;
      if (refusal?.type === 'CANNOT_CANCEL') {
        const status = (refusal.details?.[0] as { details?: { status?: OrderStatus } } | undefined)?.details?.status;
        return { accepted: false, status: status ?? (await this.state(orderId)).status, detail: refusal.message };
      }
      // A workflow that has ended takes no update; its final state says whether the order is cancelled.
      if (err instanceof WorkflowNotFoundError || isWorkflowClosedError(err)) {
        const status = await this.closedStatus(orderId);
        if (status === undefined) throw err;
        return status === 'cancelled'
          ? { accepted: true, status }
          : { accepted: false, status, detail: `Order ${orderId} cannot be cancelled: it has ended as ${status}.` };
      }
      throw err;
    }
  }

  /** The status of an order whose workflow has ended, or undefined when there is no such order. */
  private async closedStatus(orderId: string): Promise<OrderStatus | undefined> {
    try {
      return (await this.state(orderId)).status;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async delivered(orderId: string, deliveredAt?: string): Promise<void> {
    await this.within(QUICK_MS, () => this.handle(orderId).signal(orderDeliveredSignal, { deliveredAt }));
  }
}

/** The order workflow's input for a new order of the API's. */
function workflowInput(orderId: string, input: { customerId: string; currency: string; correlationId: string }): OrderWorkflowInput {
  return { orderId, customerId: input.customerId, currency: input.currency, correlationId: input.correlationId, draftTtlMs: config().ORDER_DRAFT_TTL_MS };
}
