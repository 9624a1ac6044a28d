import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
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
  checkoutCommands,
  checkoutSkus,
  decide,
  findLine,
  isDomainError,
  sagaProgress,
  sortedLines,
  toStorableText,
  whyNotCancellable,
  type CompensableStep,
  type FailedStep,
  type OrderCommand,
  type OrderState,
  type OrderStatus,
} from '../../domain';
import { findBusinessFailure } from './business-failures';
import {
  CHECKOUT_REFUSED_REASON,
  NO_CHECKOUT_REASON,
  addItemUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  cancelReasonOf,
  checkoutUpdate,
  getOrderQuery,
  getSagaProgressQuery,
  orderDeliveredSignal,
  removeItemUpdate,
  submitOrderUpdate,
  type CancelOrderInput,
  type CheckoutInput,
  type DeliveredInput,
  type OrderOutcome,
  type OrderSnapshot,
  orderSnapshot,
  type OrderWorkflowInput,
} from './contract';
import { asUpdateFailure, validateWith } from './failures';
import { AppendRefused, LOCAL_ACTIVITIES_PATCH, OrderLedger, PUBLISH_AFTER_APPEND_PATCH, PUBLISH_WITH_APPEND_PATCH } from './ledger';
import { Compensations } from './compensations';
import { cancelSafeSteps, localCatalog, services } from './services';

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
  /**
   * 2026-12: a cancel never strands an order. Forward steps are waited for when cancelled and their
   * facts recorded where no cancel reaches; the closing is decided from what is stored; every undo is
   * attempted, and one that cannot be done is recorded (CompensationFailed) instead of failing the workflow.
   */
  cancelSafeSaga: 'cancel-safe-saga',
  /** 2026-12: appends and catalog look-ups as local activities; fewer search-attribute upserts (see OrderLedger). */
  localActivities: LOCAL_ACTIVITIES_PATCH,
} as const;

const DEFAULT_DRAFT_TTL_MS = 24 * 60 * 60 * 1000;
const DEFAULT_DELIVERY_TIMEOUT_MS = 14 * 24 * 60 * 60 * 1000;

class DeliveryTimedOut extends Error {}

/**
 * One order, from draft to delivery. The draft is edited through updates; once submitted, the saga
 * reserves stock, takes payment, ships and confirms, then waits for the carrier. If anything fails or
 * the order is cancelled, the done steps are undone in reverse, in a scope no cancellation can cut short.
 *
 * The invariant: the workflow ends with its event log, the services' rows and so its read model
 * agreeing, and with money and stock balanced: nothing is held unless the order was delivered, or an
 * undo that could not be done is recorded for an operator (status compensation_failed).
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderOutcome> {
  // Histories recorded before this patch replay with the old behaviour (see PATCHES).
  const cancelSafe = patched(PATCHES.cancelSafeSaga);
  const local = cancelSafe && patched(PATCHES.localActivities);
  const catalog = local ? localCatalog : services.catalog;
  const { orderId, customerId, currency } = input;
  const ledger = new OrderLedger(orderId, { correlationId: input.correlationId ?? workflowInfo().workflowId }, { legacy: !cancelSafe, local });
  const now = (): string => new Date().toISOString();
  const ids = {
    reservation: `res-${orderId}`,
    payment: `pay-${orderId}`,
    shipment: `ship-${orderId}`,
    notification: `confirmation-${orderId}`,
  };

  /** Set once a cancel request is taken; from then on the order ends cancelled. */
  let cancel: { reason: string; acceptedInStatus: OrderStatus } | undefined;
  let delivery: DeliveredInput | undefined;
  let forwardSteps: CancellationScope | undefined;

  // A workflow started by a checkout leaves its creation to that update (only new starts carry the
  // flag, so no recorded history takes this path). Otherwise the creation is decided before any
  // handler is set: updates buffered since the start are validated against it.
  const byCheckout = cancelSafe && input.createdByCheckout === true;
  const created = byCheckout ? undefined : recordCreation();
  const checkouts = { running: 0, refused: undefined as string | undefined };

  setHandler(getOrderQuery, () => ledger.state);
  setHandler(getSagaProgressQuery, () => sagaProgress(ledger.state));

  setHandler(
    addItemUpdate,
    async ({ sku, quantity }) => {
      const product = await catalog.getProduct(sku);
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

  if (cancelSafe) setHandler(checkoutUpdate, (request) => checkout(request));

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

  if (cancelSafe) {
    setHandler(
      cancelOrderUpdate,
      (request) => {
        takeCancel(request);
        return orderSnapshot(ledger.state);
      },
      { validator: (request) => validateWith(() => checkCancel(request)) },
    );
    setHandler(cancelOrderSignal, (request) => {
      try {
        checkCancel(request);
      } catch (err) {
        log.warn('cancelOrder signal ignored', { status: ledger.state.status, reason: (err as Error).message });
        return;
      }
      takeCancel(request);
    });
  } else {
    setHandler(cancelOrderSignal, ({ reason } = {}) => {
      if (whyNotCancellable(ledger.state.status) !== undefined || ledger.state.status === 'cancelled') {
        log.warn('cancelOrder ignored: the order can no longer be cancelled', { status: ledger.state.status });
        return;
      }
      cancel ??= { reason: reason?.trim() || 'customer_request', acceptedInStatus: ledger.state.status };
      forwardSteps?.cancel();
    });
  }

  setHandler(orderDeliveredSignal, (input = {}) => {
    delivery ??= input;
  });

  /** The domain's rule for a cancel request, against the order as it will stand. A taken cancel stays taken. */
  function checkCancel(request: CancelOrderInput | undefined): void {
    const reason = cancelReasonOf(request);
    if (cancel !== undefined) {
      decide({ type: 'CancelOrder', data: { reason, now: now(), acceptedInStatus: cancel.acceptedInStatus } }, ledger.state);
      return;
    }
    ledger.check({ type: 'CancelOrder', data: { reason, now: now() } });
  }

  function takeCancel(request: CancelOrderInput | undefined): void {
    cancel ??= { reason: cancelReasonOf(request), acceptedInStatus: ledger.state.status };
    forwardSteps?.cancel();
  }

  function recordCreation(): Promise<OrderState> {
    try {
      return ledger.record({ type: 'CreateOrder', data: { orderId, customerId, currency, now: now() } });
    } catch (err) {
      // Input no order can be made of (from a start outside the API): fail at once, holding nothing.
      if (cancelSafe && isDomainError(err)) throw ApplicationFailure.nonRetryable(err.message, err.code, err.toJSON());
      throw err;
    }
  }

  /**
   * Every check is made here, none in a validator (see checkoutUpdate): the prices are looked up, one
   * call per SKU at once, then the creation (when this checkout makes the order), the lines and the
   * submit are decided and appended together. A refusal records nothing.
   */
  async function checkout(request: CheckoutInput | undefined): Promise<OrderSnapshot> {
    checkouts.running++;
    try {
      const skus = checkoutSkus(request?.lines);
      const products = await Promise.all(skus.map((sku) => catalog.getProduct(sku)));
      const prices = new Map(skus.map((sku, i) => [sku, products[i]?.unitPrice]));
      const at = now();
      const commands = checkoutCommands(
        {
          // Always named when the checkout is what makes the order: the domain makes a repeated creation a no-op.
          create: byCheckout ? { orderId, customerId, currency, now: at } : undefined,
          lines: request?.lines ?? [],
          submit: request?.submit === true,
          now: at,
        },
        (sku) => prices.get(sku),
      );
      return orderSnapshot(await ledger.recordAll(commands));
    } catch (err) {
      if (byCheckout && ledger.storedState.status === 'none') {
        checkouts.refused ??= isDomainError(err) ? err.code : err instanceof AppendRefused ? 'AppendRefused' : 'failed';
      }
      if (err instanceof AppendRefused) throw ApplicationFailure.nonRetryable(err.message, 'AppendRefused');
      throw asUpdateFailure(err);
    } finally {
      checkouts.running--;
    }
  }

  async function recordForUpdate(command: OrderCommand): Promise<OrderState> {
    try {
      return await ledger.record(command);
    } catch (err) {
      throw asUpdateFailure(err);
    }
  }


  const draftTtl = input.draftTtlMs ?? DEFAULT_DRAFT_TTL_MS;
  try {
    if (created) {
      try {
        await created;
      } catch (err) {
        if (cancelSafe && err instanceof AppendRefused) throw ApplicationFailure.nonRetryable(err.message, 'AppendRefused');
        throw err;
      }
    } else {
      // The checkout arrives with the start; a refused one (once no other is under way) ends the workflow.
      await condition(() => ledger.storedState.status !== 'none' || (checkouts.refused !== undefined && checkouts.running === 0), draftTtl);
      if (ledger.storedState.status === 'none') {
        await condition(allHandlersFinished);
        const reason = checkouts.refused === undefined ? NO_CHECKOUT_REASON : `${CHECKOUT_REFUSED_REASON}: ${checkouts.refused}`;
        return { ...outcome(ledger.storedState), orderId, failure: { reason, step: 'checkout' } };
      }
    }
    if (cancelSafe) {
      await condition(() => ledger.storedState.status !== 'draft' || cancel !== undefined, draftTtl);
      // A submit taken just before the cancel or the expiry is stored first: the saga then unwinds it.
      await ledger.settled();
      if (ledger.storedState.status === 'draft') {
        await closeDraft(cancel?.reason ?? DRAFT_EXPIRED_REASON);
      } else if (ledger.storedState.status === 'submitted') {
        await fulfil();
      }
    } else {
      await condition(() => ledger.state.status !== 'draft' || cancel !== undefined, draftTtl);
      if (ledger.state.status === 'draft') {
        await ledger.record({ type: 'CancelOrder', data: { reason: cancel?.reason ?? DRAFT_EXPIRED_REASON, now: now() } });
      } else {
        await fulfil();
      }
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled from the Web UI or the CLI: record it, whatever the phase, before finishing.
    await CancellationScope.nonCancellable(async () => {
      if (cancelSafe) await ledger.settled();
      if ((cancelSafe ? ledger.storedState : ledger.state).status === 'draft') {
        await closeDraft('workflow_cancelled');
      }
      await condition(allHandlersFinished);
      await ledger.published();
    });
    throw err;
  }
  await condition(allHandlersFinished);
  await ledger.published();
  return outcome(cancelSafe ? ledger.storedState : ledger.state);

  async function closeDraft(reason: string): Promise<void> {
    try {
      await ledger.record({ type: 'CancelOrder', data: { reason, now: now() } });
    } catch (err) {
      // A refused append is logged by the ledger; the draft holds nothing, so there is nothing to undo.
      if (!(cancelSafe && err instanceof AppendRefused)) throw err;
    }
  }

  /** The saga. Every compensation is registered before its step runs: a step that timed out may have half-happened. */
  async function fulfil(): Promise<void> {
    const compensations = new Compensations();
    const steps = cancelSafe ? cancelSafeSteps : services;
    let step: FailedStep = 'inventory';
    try {
      forwardSteps = new CancellationScope();
      // A cancel taken while the submit was being stored.
      if (cancelSafe && cancel !== undefined) forwardSteps.cancel();
      await forwardSteps.run(async () => {
        const { items, total } = submittedOrder(held());

        startStep();
        compensations.register('inventory', {
          undo: (reason) => services.compensation.releaseInventory({ reservationId: ids.reservation, reason }),
          // Recorded whenever the order holds the reservation: a retried release that had already
          // succeeded reports released: false, yet the order must still record it.
          record: async (reason) => {
            if (held().reservationId !== ids.reservation) return;
            await ledger.record({ type: 'RecordInventoryReleased', data: { reservationId: ids.reservation, reason } });
          },
        });
        await steps.inventory.reserveInventory({ reservationId: ids.reservation, orderId, items });
        await ledger.record({ type: 'RecordInventoryReserved', data: { reservationId: ids.reservation } });

        step = 'payment';
        startStep();
        compensations.register('payment', {
          undo: (reason) => services.compensation.refundPayment({ paymentId: ids.payment, reason }),
          record: async (reason) => {
            if (held().paymentId !== ids.payment) return;
            await ledger.record({ type: 'RecordPaymentRefunded', data: { paymentId: ids.payment, amount: total, reason } });
          },
        });
        await steps.payments.capturePayment({ paymentId: ids.payment, orderId, customerId, amount: total });
        await ledger.record({ type: 'RecordPaymentCaptured', data: { paymentId: ids.payment, amount: total } });

        step = 'shipment';
        startStep();
        compensations.register('shipment', {
          undo: (reason) => services.compensation.cancelShipment({ shipmentId: ids.shipment, reason }),
          record: async (reason) => {
            if (held().shipmentId !== ids.shipment) return;
            await ledger.record({ type: 'RecordShipmentCancelled', data: { shipmentId: ids.shipment, reason } });
          },
        });
        const shipment = await steps.shipping.createShipment({ shipmentId: ids.shipment, orderId, customerId, items });
        await ledger.record({ type: 'RecordShipmentCreated', data: shipment });
      });
      forwardSteps = undefined;
      // Taken while the shipment was being created, which then finished: the cancel still holds.
      if (cancelSafe && cancel !== undefined) throw new CancelledFailure('cancel request taken');

      // Shipped: from here on a cancel request is refused; only a lost delivery unwinds the order.
      step = 'confirmation';
      const { total } = submittedOrder(held());
      await steps.notifications.sendOrderConfirmation({
        notificationId: ids.notification,
        orderId,
        customerId,
        total,
        trackingNumber: held().trackingNumber ?? undefined,
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
      forwardSteps = undefined;
      const closing = closingCommand(err, step);
      log.info('order saga unwinding', { orderId, step, reason: closing.data.reason });
      await CancellationScope.nonCancellable(async () => {
        if (cancelSafe) {
          await recordClosing(closing);
          await compensations.runEach(closing.data.reason, undoFailed);
        } else {
          await ledger.record(closing);
          await compensations.runInReverse(closing.data.reason);
        }
      });
      // A cancellation of the whole workflow (not a cancel request) ends it as cancelled.
      if (isCancellation(err) && cancel === undefined) throw err;
    }
  }

  /** Once cancelled, no further step starts (so none needs undoing); the old code let the activity refuse. */
  function startStep(): void {
    if (cancelSafe && forwardSteps?.consideredCancelled) throw new CancelledFailure('cancelled before the step started');
  }

  /** The order as the store holds it (the old code read its decided view; replays keep that). */
  function held(): OrderState {
    return cancelSafe ? ledger.storedState : ledger.state;
  }

  async function recordClosing(closing: OrderCommand): Promise<void> {
    try {
      await ledger.record(closing);
    } catch (err) {
      // Stock and money come first: the undos still run, and the refusal is surfaced by the ledger.
      log.error('the closing event could not be recorded; undoing the steps regardless', { closing: closing.type, err });
    }
  }

  /** An undo that could not be done: recorded, so the order ends where an operator finds it. */
  async function undoFailed(compensable: CompensableStep, err: unknown): Promise<void> {
    const failure = findBusinessFailure(err);
    const reason = reasonFrom(failure ? `${failure.type}: ${failure.message}` : (err as Error)?.message ?? String(err));
    log.error('an undo could not be done; the order needs an operator', { orderId, step: compensable, reason });
    try {
      await ledger.record({ type: 'RecordCompensationFailed', data: { step: compensable, reason, now: now() } });
    } catch (recordErr) {
      log.error('the failed undo could not be recorded', { step: compensable, err: recordErr });
    }
  }

  function closingCommand(err: unknown, step: FailedStep): Extract<OrderCommand, { type: 'CancelOrder' | 'FailOrder' }> {
    const at = now();
    const status = held().status;
    if (cancelSafe && cancel !== undefined) {
      return { type: 'CancelOrder', data: { reason: cancel.reason, now: at, acceptedInStatus: cancel.acceptedInStatus } };
    }
    if (isCancellation(err)) {
      const reason = cancel?.reason ?? 'workflow_cancelled';
      return whyNotCancellable(status) === undefined
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

/** A reason that fits the domain's rules, from whatever text a failure carried. */
function reasonFrom(text: string): string {
  return toStorableText(text, MAX_REASON_LENGTH, 'unknown failure');
}
