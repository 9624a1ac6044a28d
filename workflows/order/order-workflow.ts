import {
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DRAFT_EXPIRED_REASON,
  MAX_REASON_LENGTH,
  UnknownSkuError,
  findLine,
  sagaProgress,
  sortedLines,
  type FailedStep,
  type OrderCommand,
  type OrderState,
} from '../../domain';
import { findBusinessFailure } from '../../activities/errors';
import {
  addItemUpdate,
  cancelOrderSignal,
  getOrderQuery,
  getSagaProgressQuery,
  orderDeliveredSignal,
  removeItemUpdate,
  submitOrderUpdate,
  type DeliveredInput,
  type OrderOutcome,
  orderSnapshot,
  type OrderWorkflowInput,
} from './contract';
import { asUpdateFailure, validateWith } from './failures';
import { OrderLedger, PUBLISH_AFTER_APPEND_PATCH, PUBLISH_WITH_APPEND_PATCH } from './ledger';
import { Compensations } from './compensations';
import { services } from './services';

/**
 * Changes to the workflow's commands, made with patched() so that orders already running (whose
 * histories were recorded by the older code) replay unchanged. test/replay/ holds such histories.
 */
export const PATCHES = {
  /** 2026-11: delivery tells shipping and inventory concurrently instead of one after the other. */
  deliverInParallel: 'deliver-in-parallel',
  /** 2026-11: the workflow publishes the events it appended (see OrderLedger). */
  publishAfterAppend: PUBLISH_AFTER_APPEND_PATCH,
  /** 2026-11: the append activity publishes too; the publishing activity only when that failed. */
  publishWithAppend: PUBLISH_WITH_APPEND_PATCH,
} as const;

const DEFAULT_DRAFT_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_DELIVERY_TIMEOUT_MS = 14 * 24 * 60 * 60 * 1000;

/** Statuses from which a cancellation is still a plain cancel (nothing has been shipped). */
const CANCELLABLE: readonly OrderState['status'][] = ['draft', 'submitted', 'inventory_reserved', 'payment_captured'];

class DeliveryTimedOut extends Error {}

/**
 * One order, from draft to delivery. The draft is edited through updates; once submitted, the saga
 * reserves stock, takes payment, ships and confirms, then waits for the carrier. If anything fails or
 * the order is cancelled, the done steps are undone in reverse, in a scope no cancellation can cut short.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderOutcome> {
  const { orderId, customerId, currency } = input;
  const ledger = new OrderLedger(orderId, { correlationId: input.correlationId ?? workflowInfo().workflowId });
  const now = (): string => new Date().toISOString();
  const ids = {
    reservation: `res-${orderId}`,
    payment: `pay-${orderId}`,
    shipment: `ship-${orderId}`,
    notification: `confirmation-${orderId}`,
  };

  let cancelReason: string | undefined;
  let delivery: DeliveredInput | undefined;
  let forwardSteps: CancellationScope | undefined;

  // Decided before any handler is set: updates buffered since the start are validated against it.
  const created = ledger.record({ type: 'CreateOrder', data: { orderId, customerId, currency, now: now() } });

  setHandler(getOrderQuery, () => ledger.state);
  setHandler(getSagaProgressQuery, () => sagaProgress(ledger.state));

  setHandler(
    addItemUpdate,
    async ({ sku, quantity }) => {
      const product = await services.catalog.getProduct(sku);
      // The domain's own error, so the caller gets the same code whichever layer refuses the SKU.
      if (!product) throw asUpdateFailure(new UnknownSkuError(sku));
      return orderSnapshot(await recordForUpdate({ type: 'AddItem', data: { sku, quantity, unitPrice: product.unitPrice } }));
    },
    {
      // The price comes from the catalog in the handler; the rules are checked here with the line's
      // known price (or a zero placeholder), so that a bad quantity or a submitted order never gets in.
      validator: ({ sku, quantity }) =>
        validateWith(() => {
          const state = ledger.state;
          const unitPrice = findLine(state.items, sku)?.unitPrice ?? { amountMinor: 0, currency: state.currency ?? currency };
          ledger.check({ type: 'AddItem', data: { sku, quantity, unitPrice } });
        }),
    },
  );

  setHandler(
    removeItemUpdate,
    async ({ sku }) => {
      return orderSnapshot(await recordForUpdate({ type: 'RemoveItem', data: { sku } }));
    },
    { validator: ({ sku }) => validateWith(() => ledger.check({ type: 'RemoveItem', data: { sku } })) },
  );

  setHandler(
    submitOrderUpdate,
    async () => {
      return orderSnapshot(await recordForUpdate({ type: 'SubmitOrder', data: { now: now() } }));
    },
    { validator: () => validateWith(() => ledger.check({ type: 'SubmitOrder', data: { now: now() } })) },
  );

  setHandler(cancelOrderSignal, ({ reason } = {}) => {
    if (!CANCELLABLE.includes(ledger.state.status)) {
      log.warn('cancelOrder ignored: the order can no longer be cancelled', { status: ledger.state.status });
      return;
    }
    cancelReason ??= reason?.trim() || 'customer_request';
    forwardSteps?.cancel();
  });

  setHandler(orderDeliveredSignal, (input = {}) => {
    delivery ??= input;
  });

  async function recordForUpdate(command: OrderCommand): Promise<OrderState> {
    try {
      return await ledger.record(command);
    } catch (err) {
      throw asUpdateFailure(err);
    }
  }

  try {
    await created;
    await condition(() => ledger.state.status !== 'draft' || cancelReason !== undefined, input.draftTtlMs ?? DEFAULT_DRAFT_TTL_MS);
    if (ledger.state.status === 'draft') {
      await ledger.record({ type: 'CancelOrder', data: { reason: cancelReason ?? DRAFT_EXPIRED_REASON, now: now() } });
    } else {
      await fulfil();
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled from the Web UI or the CLI: record it, whatever the phase, before finishing.
    await CancellationScope.nonCancellable(async () => {
      if (ledger.state.status === 'draft') {
        await ledger.record({ type: 'CancelOrder', data: { reason: 'workflow_cancelled', now: now() } });
      }
      await condition(allHandlersFinished);
      await ledger.published();
    });
    throw err;
  }
  await condition(allHandlersFinished);
  await ledger.published();
  return outcome(ledger.state);

  /** The saga. Every compensation is registered before its step runs: a step that timed out may have half-happened. */
  async function fulfil(): Promise<void> {
    const compensations = new Compensations();
    let step: FailedStep = 'inventory';
    try {
      forwardSteps = new CancellationScope();
      await forwardSteps.run(async () => {
        const { items, total } = submittedOrder(ledger.state);

        compensations.register('inventory', async (reason) => {
          await services.compensation.releaseInventory({ reservationId: ids.reservation, reason });
          // Recorded whenever the order holds the reservation: a retried release that had already
          // succeeded reports released: false, yet the order must still record it.
          if (ledger.state.reservationId === ids.reservation) {
            await ledger.record({ type: 'RecordInventoryReleased', data: { reservationId: ids.reservation, reason } });
          }
        });
        await services.inventory.reserveInventory({ reservationId: ids.reservation, orderId, items });
        await ledger.record({ type: 'RecordInventoryReserved', data: { reservationId: ids.reservation } });

        step = 'payment';
        compensations.register('payment', async (reason) => {
          await services.compensation.refundPayment({ paymentId: ids.payment, reason });
          if (ledger.state.paymentId === ids.payment) {
            await ledger.record({ type: 'RecordPaymentRefunded', data: { paymentId: ids.payment, amount: total, reason } });
          }
        });
        await services.payments.capturePayment({ paymentId: ids.payment, orderId, customerId, amount: total });
        await ledger.record({ type: 'RecordPaymentCaptured', data: { paymentId: ids.payment, amount: total } });

        step = 'shipment';
        compensations.register('shipment', async (reason) => {
          await services.compensation.cancelShipment({ shipmentId: ids.shipment, reason });
          if (ledger.state.shipmentId === ids.shipment) {
            await ledger.record({ type: 'RecordShipmentCancelled', data: { shipmentId: ids.shipment, reason } });
          }
        });
        const shipment = await services.shipping.createShipment({ shipmentId: ids.shipment, orderId, customerId, items });
        await ledger.record({ type: 'RecordShipmentCreated', data: shipment });
      });
      forwardSteps = undefined;

      // Shipped: from here on a cancel request is refused; only a lost delivery unwinds the order.
      step = 'confirmation';
      const { total } = submittedOrder(ledger.state);
      await services.notifications.sendOrderConfirmation({
        notificationId: ids.notification,
        orderId,
        customerId,
        total,
        trackingNumber: ledger.state.trackingNumber ?? undefined,
      });
      await ledger.record({ type: 'ConfirmOrder', data: { now: now() } });

      step = 'delivery';
      const arrived = await condition(() => delivery !== undefined, input.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS);
      if (!arrived) throw new DeliveryTimedOut('the carrier did not report the delivery in time');
      if (patched(PATCHES.deliverInParallel)) {
        // Independent services: telling both at once halves the time an order spends here.
        await Promise.all([
          services.shipping.markDelivered({ shipmentId: ids.shipment }),
          services.inventory.commitReservation({ reservationId: ids.reservation }),
        ]);
      } else {
        await services.shipping.markDelivered({ shipmentId: ids.shipment });
        await services.inventory.commitReservation({ reservationId: ids.reservation });
      }
      await ledger.record({ type: 'MarkDelivered', data: { now: delivery?.deliveredAt ?? now() } });
    } catch (err) {
      const closing = closingCommand(err, step);
      log.info('order saga unwinding', { orderId, step, reason: closing.data.reason });
      await CancellationScope.nonCancellable(async () => {
        await ledger.record(closing);
        await compensations.runInReverse(closing.data.reason);
      });
      // A cancellation of the whole workflow (not the cancelOrder signal) ends it as cancelled.
      if (isCancellation(err) && cancelReason === undefined) throw err;
    }
  }

  function closingCommand(err: unknown, step: FailedStep): Extract<OrderCommand, { type: 'CancelOrder' | 'FailOrder' }> {
    const at = now();
    if (isCancellation(err)) {
      const reason = cancelReason ?? 'workflow_cancelled';
      return CANCELLABLE.includes(ledger.state.status)
        ? { type: 'CancelOrder', data: { reason, now: at } }
        : { type: 'FailOrder', data: { reason, failedStep: step, now: at } };
    }
    if (err instanceof DeliveryTimedOut) return { type: 'FailOrder', data: { reason: 'delivery_timeout', failedStep: 'delivery', now: at } };
    const business = findBusinessFailure(err);
    const reason = reasonFrom(business ? `${business.type}: ${business.message}` : (err as Error)?.message ?? String(err));
    return { type: 'FailOrder', data: { reason, failedStep: step, now: at } };
  }
}

function submittedOrder(state: OrderState): { items: { sku: string; quantity: number }[]; total: NonNullable<OrderState['total']> } {
  if (!state.total) throw new Error(`order ${state.orderId} has no total`);
  return { items: sortedLines(state.items).map(({ sku, quantity }) => ({ sku, quantity })), total: state.total };
}

function outcome(state: OrderState): OrderOutcome {
  return {
    ...orderSnapshot(state),
    failure: state.failure,
    cancellationReason: state.cancellationReason,
  };
}

/** A reason that fits the domain's limits, from whatever text a failure carried. */
function reasonFrom(text: string): string {
  const trimmed = text.replace(/\s+/g, ' ').trim() || 'unknown failure';
  return trimmed.length > MAX_REASON_LENGTH ? `${trimmed.slice(0, MAX_REASON_LENGTH - 1)}…` : trimmed;
}
