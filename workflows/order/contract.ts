/**
 * How the outside world talks to an order workflow: its id, input, updates, signals and queries.
 * Clients (the API, tests, tools) import this module; it holds no workflow logic.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { sortedLines, type Money, type OrderState, type OrderStatus, type SagaProgress } from '../../domain';

export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;

export interface OrderWorkflowInput {
  orderId: string;
  customerId: string;
  currency: string;
  /** How long an unsubmitted draft lives (ms); default 24 h. */
  draftTtlMs?: number;
  /** How long to wait for the carrier's delivery signal after confirmation (ms); default 14 days. */
  deliveryTimeoutMs?: number;
  /** Carried into every event's metadata. */
  correlationId?: string;
  /**
   * Started by a checkout (Update-with-Start): the creation is recorded by the checkout update, with
   * its lines and submit, in one append; a refused checkout (or none arriving) ends the workflow with
   * nothing recorded.
   */
  createdByCheckout?: boolean;
}

/** What every command answers with: the order as it stands and its stream version (for read-your-writes). */
export interface OrderSnapshot {
  orderId: string;
  status: OrderStatus;
  version: number;
  total: Money | null;
  items: { sku: string; quantity: number; unitPrice: Money }[];
}

export interface OrderOutcome extends OrderSnapshot {
  failure: { reason: string; step: string } | null;
  cancellationReason: string | null;
}

/** The reason (failure.reason, step 'checkout') of a workflow whose checkout made no order. */
export const CHECKOUT_REFUSED_REASON = 'checkout_refused';
export const NO_CHECKOUT_REASON = 'no_checkout';

export interface AddItemInput {
  sku: string;
  quantity: number;
}

export interface CheckoutInput {
  lines: AddItemInput[];
  /** Submit the order once the lines are in (default false: it stays a draft). */
  submit?: boolean;
}

export interface RemoveItemInput {
  sku: string;
}

export interface CancelOrderInput {
  /** Default: customer_request. Surrounding white space is trimmed; the rest must be storable text. */
  reason?: string;
}

export const DEFAULT_CANCEL_REASON = 'customer_request';

/** The reason a cancel request gives, as the workflow records it. */
export function cancelReasonOf(input: CancelOrderInput | undefined): string {
  const reason: unknown = input?.reason;
  if (reason === undefined || reason === null) return DEFAULT_CANCEL_REASON;
  // Anything but text becomes a blank reason, which the domain's rule refuses.
  return typeof reason === 'string' ? reason.trim() : '';
}

export interface DeliveredInput {
  deliveredAt?: string;
}

// Draft phase: updates with validators, so invalid input is rejected before it reaches history.
export const addItemUpdate = defineUpdate<OrderSnapshot, [AddItemInput]>('addItem');
export const removeItemUpdate = defineUpdate<OrderSnapshot, [RemoveItemInput]>('removeItem');
export const submitOrderUpdate = defineUpdate<OrderSnapshot, []>('submitOrder');
/**
 * Lines (and the submit) in one append, creating the order when the workflow was started for it. No
 * validator: with Update-with-Start a rejected update would leave no trace, so the workflow could not
 * tell "refused" from "not arrived yet"; a refusal is a failed update, recorded in history.
 */
export const checkoutUpdate = defineUpdate<OrderSnapshot, [CheckoutInput]>('checkout');

/**
 * Cancelling: the update answers only once the workflow has taken the cancel (its validator applies the
 * domain's rule, so a refused cancel never enters history); the signal of the same name, for the
 * temporal CLI, follows the same rule inside the workflow and is ignored, with a warning, when refused.
 */
export const cancelOrderUpdate = defineUpdate<OrderSnapshot, [CancelOrderInput]>('cancelOrder');
export const cancelOrderSignal = defineSignal<[CancelOrderInput]>('cancelOrder');
/** The carrier's signal that the parcel arrived. */
export const orderDeliveredSignal = defineSignal<[DeliveredInput]>('orderDelivered');

export const getOrderQuery = defineQuery<OrderState>('getOrder');
export const getSagaProgressQuery = defineQuery<SagaProgress>('getSagaProgress');

/** The snapshot of an order that commands answer with. */
export function orderSnapshot(state: OrderState): OrderSnapshot {
  return {
    orderId: state.orderId ?? '',
    status: state.status,
    version: state.version,
    total: state.total,
    items: sortedLines(state.items),
  };
}
