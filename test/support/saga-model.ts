/*
 * A model of the order saga's rules, for the model-based property test (test/workflow/saga-model.test.ts):
 * the scenarios fast-check generates, and what the workflow must do in each: its events, status, the
 * answers to cancel requests and which undos run. The model is written from the rules (README,
 * domain/order/*), not from the workflow's code.
 */
import fc from 'fast-check';
import type { CompensableStep, OrderStatus } from '../../domain';
import type { BusinessFailureType } from '../../activities/errors';
import type { ActivityName } from './workflow-doubles';

// ---------------------------------------------------------------------------------------------------
// Scenarios

/** The forward steps that run before the confirmation (each one compensable). */
export const STEPS = ['reserve', 'capture', 'ship'] as const;
export type Step = (typeof STEPS)[number];

/**
 * How a cancel lands while a step's activity runs (the activity is held at a gate):
 * - before: before the service did anything; the activity honours the cancellation.
 * - after: the service did its work, then the activity learns of the cancellation and reports it.
 * - completes: the activity does not check for cancellation; it is let go once the cancel reached it, and completes.
 */
export type Landing = 'before' | 'after' | 'completes';

export type Moment =
  | { kind: 'draft' }
  | { kind: 'step'; step: Step; landing: Landing }
  /** While the confirmation is sent (status shipment_created). */
  | { kind: 'confirm' }
  /** While the order waits for the carrier (status confirmed). */
  | { kind: 'awaiting_delivery' };

export type ReasonKind = 'default' | 'custom' | 'invalid';
export type CancelRequest = { via: 'update' | 'signal'; reason: ReasonKind } | { via: 'workflow' };

export type ForwardFailure = Step | 'confirm' | 'markDelivered' | 'commitReservation';
export type Undo = 'releaseInventory' | 'refundPayment' | 'cancelShipment';

export interface RetryableFault {
  activity: ActivityName;
  call: number;
  afterEffect: boolean;
}

export interface Scenario {
  items: { sku: string; quantity: number }[];
  /** Whether the order is submitted (a draft that is not submitted is cancelled or expires). */
  submit: boolean;
  /** When the cancels land; none: no cancel. */
  moment: Moment | null;
  /** Sent one after the other at the moment: one or two. */
  cancels: CancelRequest[];
  /** A business (non-retryable) failure of one forward activity. */
  failure: ForwardFailure | null;
  /** Undos that fail for good. */
  undoFailures: Undo[];
  /** One retryable failure of some activity (retries take real time: kept rare). */
  retryable: RetryableFault | null;
  /** Whether the carrier reports the delivery (otherwise the 14 days time out). */
  delivered: boolean;
}

export const FORWARD_ACTIVITY: Record<Step | 'confirm', ActivityName> = {
  reserve: 'reserveInventory',
  capture: 'capturePayment',
  ship: 'createShipment',
  confirm: 'sendOrderConfirmation',
};

export const FAILURE_OF: Record<ForwardFailure, { activity: ActivityName; type: BusinessFailureType }> = {
  reserve: { activity: 'reserveInventory', type: 'OutOfStock' },
  capture: { activity: 'capturePayment', type: 'PaymentDeclined' },
  ship: { activity: 'createShipment', type: 'UndeliverableAddress' },
  confirm: { activity: 'sendOrderConfirmation', type: 'InvalidRequest' },
  markDelivered: { activity: 'markDelivered', type: 'ShipmentNotFound' },
  commitReservation: { activity: 'commitReservation', type: 'ReservationNotFound' },
};

export const UNDO_FAILURE_TYPE: Record<Undo, BusinessFailureType> = {
  releaseInventory: 'ReservationCommitted',
  refundPayment: 'PaymentVoided',
  cancelShipment: 'ShipmentDelivered',
};

const COMPENSABLE_OF: Record<Step, CompensableStep> = { reserve: 'inventory', capture: 'payment', ship: 'shipment' };
export const UNDO_OF: Record<CompensableStep, Undo> = { inventory: 'releaseInventory', payment: 'refundPayment', shipment: 'cancelShipment' };
const DONE_EVENT: Record<CompensableStep, string> = { inventory: 'InventoryReserved', payment: 'PaymentCaptured', shipment: 'ShipmentCreated' };
const UNDO_EVENT: Record<CompensableStep, string> = { inventory: 'InventoryReleased', payment: 'PaymentRefunded', shipment: 'ShipmentCancelled' };
const STATUS_AFTER: Record<CompensableStep, OrderStatus> = { inventory: 'inventory_reserved', payment: 'payment_captured', shipment: 'shipment_created' };

export const CUSTOM_REASON = '  changed my mind ';
/** Text PostgreSQL cannot store (a NUL byte), or that is not valid UTF-16 (a lone surrogate). */
export const INVALID_REASONS = ['no\u0000thanks', 'bad \uD800 text'];

const RETRYABLE_CANDIDATES: readonly ActivityName[] = [
  'reserveInventory',
  'capturePayment',
  'createShipment',
  'sendOrderConfirmation',
  'markDelivered',
  'commitReservation',
  'releaseInventory',
  'refundPayment',
  'cancelShipment',
];

const items = fc.uniqueArray(
  fc.record({ sku: fc.constantFrom('SKU-BOOK', 'SKU-MUG', 'SKU-PEN'), quantity: fc.integer({ min: 1, max: 3 }) }),
  { minLength: 1, maxLength: 2, selector: (line) => line.sku },
);

const moment: fc.Arbitrary<Moment | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.constant({ kind: 'draft' as const }) },
  {
    weight: 9,
    arbitrary: fc.record({
      kind: fc.constant('step' as const),
      step: fc.constantFrom(...STEPS),
      landing: fc.constantFrom<Landing>('before', 'after', 'completes'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'confirm' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'awaiting_delivery' as const }) },
);

const cancels: fc.Arbitrary<CancelRequest[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<CancelRequest[]>([{ via: 'workflow' }], [{ via: 'workflow' }, { via: 'workflow' }]) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.record({ via: fc.constantFrom<'update' | 'signal'>('update', 'signal'), reason: fc.constantFrom<ReasonKind>('default', 'custom', 'invalid') }),
        fc.option(fc.record({ via: fc.constantFrom<'update' | 'signal'>('update', 'signal'), reason: fc.constantFrom<ReasonKind>('default', 'custom') }), {
          nil: undefined,
        }),
      )
      .map(([first, second]) => (second ? [first, second] : [first])),
  },
);

/**
 * In about one run in ten: a retry waits its backoff in real time (1 s for a service, 200 ms for the
 * event store, whose appends get half of them).
 */
const retryable: fc.Arbitrary<RetryableFault | null> = fc.oneof(
  { weight: 18, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.record({ activity: fc.constant<ActivityName>('appendOrderEvents'), call: fc.integer({ min: 1, max: 10 }), afterEffect: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ activity: fc.constantFrom(...RETRYABLE_CANDIDATES), call: fc.constant(1), afterEffect: fc.boolean() }),
  },
);

/** Scenarios, normalised so that every generated one means what it says (see normalise). */
export const scenarios: fc.Arbitrary<Scenario> = fc
  .record({
    items,
    submit: fc.boolean(),
    moment,
    cancels,
    failure: fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom<ForwardFailure>('reserve', 'capture', 'ship', 'confirm', 'markDelivered', 'commitReservation') },
    ),
    undoFailures: fc.subarray<Undo>(['releaseInventory', 'refundPayment', 'cancelShipment'], { maxLength: 2 }).chain((undos) =>
      fc.oneof({ weight: 2, arbitrary: fc.constant<Undo[]>([]) }, { weight: 1, arbitrary: fc.constant(undos) }),
    ),
    retryable,
    delivered: fc.boolean(),
  })
  .map(normalise);

/**
 * Keeps the dimensions apart where they would only blur each other: a draft moment means no submit;
 * no moment means no cancel; the one retryable failure hits an activity that no other fault targets
 * (a retry of a gated call after a cancel is up to the server); a failure of the gated step itself is
 * thrown after the gate, so a cancel landing "after" the service's work comes with no failure of that step.
 */
export function normalise(s: Scenario): Scenario {
  const out: Scenario = { ...s, cancels: [...s.cancels], undoFailures: [...s.undoFailures] };
  if (out.moment?.kind === 'draft') out.submit = false;
  if (out.moment && out.moment.kind !== 'draft') out.submit = true;
  if (!out.moment) out.cancels = [];
  const m = out.moment;
  if (m?.kind === 'step' && m.landing === 'after' && out.failure === m.step) out.failure = null;
  if (out.retryable) {
    const { activity } = out.retryable;
    const taken = new Set<ActivityName>([
      ...(m?.kind === 'step' ? [FORWARD_ACTIVITY[m.step]] : []),
      ...(m?.kind === 'confirm' ? [FORWARD_ACTIVITY.confirm] : []),
      ...(out.failure ? [FAILURE_OF[out.failure].activity] : []),
      ...out.undoFailures,
    ]);
    if (taken.has(activity)) out.retryable = null;
    else if (activity !== 'appendOrderEvents') out.retryable = { ...out.retryable, call: 1 };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The model

/** How a cancel request is answered: update answers, and what a signal should have done. */
export type Answer = 'accepted' | 'CANNOT_CANCEL' | 'INVALID_ARGUMENT' | 'taken' | 'ignored' | 'sent';

/** What the test observed that the rules leave to timing: whether a delivery sibling had completed. */
export interface Observed {
  completed: (activity: ActivityName) => boolean;
}

export interface Expected {
  /** Whether the moment of the cancels is reached (an earlier failure ends the order first). */
  reached: boolean;
  /** One per cancel request sent, in order (when reached). */
  answers: Answer[];
  /** Whether the cancel requests were taken by the time the gated activity was to be let go. */
  cancelTaken: boolean;
  workflowCancelled: boolean;
  /** The stored event types, oldest first. */
  events: string[];
  status: OrderStatus;
  /** failure.step of the order, or null. */
  failureStep: string | null;
  /** failure.reason: exact, or a prefix (`type:`) for business failures. */
  failureReason: { exact: string } | { prefix: string } | null;
  cancellationReason: string | null;
  unsettled: CompensableStep[];
  /** Compensable steps whose forward activity is called (their undo registered first). */
  started: CompensableStep[];
  /** Undo activities in the order they are called (retries aside). */
  undoCalls: Undo[];
  /** Whether each step's undo fails (injected, or because the delivery already went ahead). */
  undoFails: Partial<Record<CompensableStep, boolean>>;
  workflowStatus: 'COMPLETED' | 'CANCELLED';
  /** Whether the confirmation activity is called, and whether the carrier's delivery is waited for. */
  confirmationCalled: boolean;
  confirmedReached: boolean;
}

const CANCELLABLE: readonly OrderStatus[] = ['draft', 'submitted', 'inventory_reserved', 'payment_captured'];

export function reasonText(kind: ReasonKind, index: number): string {
  if (kind === 'default') return 'customer_request';
  if (kind === 'custom') return CUSTOM_REASON;
  return INVALID_REASONS[index % INVALID_REASONS.length] ?? INVALID_REASONS[0]!;
}

export function expectedRun(s: Scenario, observed: Observed): Expected {
  const events = ['OrderCreated', ...s.items.map(() => 'OrderItemAdded')];
  const answers: Answer[] = [];
  let status: OrderStatus = 'draft';
  let taken: string | undefined;
  let workflowCancelled = false;
  let reached = false;

  const land = (): void => {
    reached = true;
    s.cancels.forEach((c, i) => {
      if (c.via === 'workflow') {
        workflowCancelled = true;
        answers.push('sent');
        return;
      }
      let answer: 'accepted' | 'CANNOT_CANCEL' | 'INVALID_ARGUMENT';
      if (taken !== undefined) answer = 'accepted';
      else if (!CANCELLABLE.includes(status)) answer = 'CANNOT_CANCEL';
      else if (c.reason === 'invalid') answer = 'INVALID_ARGUMENT';
      else {
        answer = 'accepted';
        taken = reasonText(c.reason, i).trim();
      }
      answers.push(c.via === 'update' ? answer : answer === 'accepted' ? 'taken' : 'ignored');
    });
  };
  const base = {
    answers,
    unsettled: [] as CompensableStep[],
    undoCalls: [] as Undo[],
    undoFails: {},
    failureStep: null,
    failureReason: null,
  };

  if (!s.submit) {
    if (s.moment?.kind === 'draft') land();
    events.push('OrderCancelled');
    const reason = taken ?? (workflowCancelled ? 'workflow_cancelled' : 'draft_expired');
    return {
      ...base,
      reached,
      cancelTaken: taken !== undefined,
      workflowCancelled,
      events,
      status: 'cancelled',
      cancellationReason: reason,
      started: [],
      workflowStatus: workflowCancelled ? 'CANCELLED' : 'COMPLETED',
      confirmationCalled: false,
      confirmedReached: false,
    };
  }

  events.push('OrderSubmitted');
  status = 'submitted';
  const started: CompensableStep[] = [];
  const recorded = new Set<CompensableStep>();
  type Closing = { type: 'OrderCancelled'; reason: string } | { type: 'OrderFailed'; step: string; reason: { exact: string } | { prefix: string } };
  let closing: Closing | undefined;
  const failed = (step: string, reason: { exact: string } | { prefix: string }): Closing => ({ type: 'OrderFailed', step, reason });
  const businessReason = (f: ForwardFailure) => ({ prefix: `${FAILURE_OF[f].type}: ` });
  let confirmationCalled = false;
  let confirmedReached = false;

  for (const step of STEPS) {
    // Once cancelled, no further step starts.
    if (taken !== undefined || workflowCancelled) break;
    const comp = COMPENSABLE_OF[step];
    started.push(comp);
    // How the step's activity ends: completed, failed for good, or cancelled.
    let ends: 'completed' | 'failed' | 'cancelled' = s.failure === step ? 'failed' : 'completed';
    if (s.moment?.kind === 'step' && s.moment.step === step) {
      land();
      if ((taken !== undefined || workflowCancelled) && s.moment.landing !== 'completes') ends = 'cancelled';
    }
    if (ends === 'completed') {
      events.push(DONE_EVENT[comp]);
      recorded.add(comp);
      status = STATUS_AFTER[comp];
      continue;
    }
    // A taken cancel request decides the closing whatever the step did; a cancellation of the workflow
    // only when it is what ended the step (a step that failed on its own fails the order).
    if (ends === 'failed' && taken === undefined) closing = failed(comp, businessReason(step));
    break;
  }

  if (!closing) {
    if (taken !== undefined) closing = { type: 'OrderCancelled', reason: taken };
    else if (workflowCancelled) {
      // A cancellation of the workflow itself: cancelled while nothing was handed to the carrier, failed after.
      closing = CANCELLABLE.includes(status) ? { type: 'OrderCancelled', reason: 'workflow_cancelled' } : failed('confirmation', { exact: 'workflow_cancelled' });
    } else {
      confirmationCalled = true;
      if (s.moment?.kind === 'confirm') land();
      if (workflowCancelled) closing = failed('confirmation', { exact: 'workflow_cancelled' });
      else if (s.failure === 'confirm') closing = failed('confirmation', businessReason('confirm'));
      else {
        events.push('OrderConfirmed');
        status = 'confirmed';
        confirmedReached = true;
        if (s.moment?.kind === 'awaiting_delivery') land();
        if (workflowCancelled) closing = failed('delivery', { exact: 'workflow_cancelled' });
        else if (!s.delivered) closing = failed('delivery', { exact: 'delivery_timeout' });
        else if (s.failure === 'markDelivered' || s.failure === 'commitReservation') closing = failed('delivery', businessReason(s.failure));
        else {
          events.push('OrderDelivered');
          status = 'delivered';
        }
      }
    }
  }

  const unsettled: CompensableStep[] = [];
  const undoCalls: Undo[] = [];
  const undoFails: Partial<Record<CompensableStep, boolean>> = {};
  if (closing) {
    events.push(closing.type);
    status = closing.type === 'OrderCancelled' ? 'cancelled' : 'failed';
    // The undos of the started steps, last first; one that fails for good does not stop the others.
    const deliveryWentAhead: Partial<Record<CompensableStep, boolean>> = {
      shipment: observed.completed('markDelivered'),
      inventory: observed.completed('commitReservation'),
    };
    for (const comp of [...started].reverse()) {
      const undo = UNDO_OF[comp];
      undoCalls.push(undo);
      const fails = s.undoFailures.includes(undo) || deliveryWentAhead[comp] === true;
      undoFails[comp] = fails;
      // An undo that fails for good is on record even for a step the log never held (its activity
      // reported cancelled after doing its work): the operator must look.
      if (fails) {
        events.push('CompensationFailed');
        unsettled.push(comp);
      } else if (recorded.has(comp)) events.push(UNDO_EVENT[comp]);
    }
    if (unsettled.length > 0) status = 'compensation_failed';
  }

  return {
    ...base,
    reached,
    cancelTaken: taken !== undefined,
    workflowCancelled,
    events,
    status,
    failureStep: status === 'compensation_failed' ? 'compensation' : closing?.type === 'OrderFailed' ? closing.step : null,
    failureReason: status === 'compensation_failed' ? null : closing?.type === 'OrderFailed' ? closing.reason : null,
    cancellationReason: closing?.type === 'OrderCancelled' ? closing.reason : null,
    unsettled,
    started,
    undoCalls,
    undoFails,
    workflowStatus: workflowCancelled ? 'CANCELLED' : 'COMPLETED',
    confirmationCalled,
    confirmedReached,
  };
}
