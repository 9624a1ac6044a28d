/*
 * In-memory test doubles of every activity the order workflow calls, for the workflow tests on the
 * time-skipping server (test/support/workflow-harness.ts). Each double keeps the service-side state
 * and answers with the same idempotency and tombstone rules as the real activity (activities/*.ts),
 * and every call can be given a fault: a retryable error, a business failure, a delay, or a gate the
 * test opens. Only for tests: nothing in production imports this.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { OrderEventActivities, AppendOrderEventsInput, AppendOrderEventsResult } from '../../activities/order-events';
import { ORDER_EVENT_FAILURES } from '../../activities/order-events';
import type { PublishingActivities, PublishOrderEventsInput } from '../../activities/publishing';
import { PUBLISHING_FAILURES } from '../../activities/publishing';
import type {
  InventoryActivities,
  NotificationActivities,
  PaymentActivities,
  ShippingActivities,
} from '../../activities/services';
import type { Product, ReservationItem } from '../../activities/inventory';
import { normaliseItems, sameItems } from '../../activities/inventory';
import { trackingNumberFor } from '../../activities/shipping';
import {
  BUSINESS_FAILURES,
  businessFailure,
  requireMoney,
  requireText,
  type BusinessFailureDetails,
  type BusinessFailureType,
} from '../../activities/errors';
import { EventRegistry } from '../../eventstore/registry';
import { EventStoreError, InvalidEventError } from '../../eventstore/errors';
import { deterministicEventId } from '../../eventstore/event-ids';
import type { EventMetadata } from '../../eventstore/types';
import { ORDER_EVENT_DEFINITIONS, orderStreamId, type OrderEvent, type OrderEventType } from '../../domain/order/events';
import { equals, of as moneyOf, type Money } from '../../domain/money';

// ---------------------------------------------------------------------------------------------------
// Activities and calls

/** Every activity the order workflow schedules, by the task queue that serves it. */
export const ACTIVITIES_BY_QUEUE = {
  orders: ['appendOrderEvents', 'publishOrderEvents', 'getProduct'],
  inventory: ['getProduct', 'reserveInventory', 'commitReservation', 'releaseInventory'],
  payments: ['capturePayment', 'refundPayment'],
  shipping: ['createShipment', 'markDelivered', 'cancelShipment'],
  notifications: ['sendOrderConfirmation'],
} as const;

type AllActivities = OrderEventActivities & PublishingActivities & InventoryActivities & PaymentActivities & ShippingActivities & NotificationActivities;
export type ActivityName = (typeof ACTIVITIES_BY_QUEUE)[keyof typeof ACTIVITIES_BY_QUEUE][number];
export type QueueName = keyof typeof ACTIVITIES_BY_QUEUE;

/** One call of an activity double (each attempt of an activity is a call of its own). */
export interface ActivityCall {
  activity: ActivityName;
  workflowId: string;
  /** 1 for the first call of this activity by this workflow, 2 for the next, ... */
  call: number;
  /** Temporal's attempt number. */
  attempt: number;
  input: unknown;
  outcome: 'running' | 'completed' | 'failed';
  result?: unknown;
  /** `type: message` of an ApplicationFailure, or the message of another error. */
  error?: string;
}

// ---------------------------------------------------------------------------------------------------
// Faults

/** Stands in for a test double's call until the test releases it, so a test can act while it runs. */
export class Gate {
  private open!: () => void;
  private reached!: (call: ActivityCall) => void;
  private noticed!: () => void;
  private releasedFlag = false;
  /** Resolves once the gate is released. */
  readonly released: Promise<void> = new Promise((resolve) => (this.open = resolve));
  /** Resolves with the first call that reached the gate. */
  readonly entered: Promise<ActivityCall> = new Promise((resolve) => (this.reached = resolve));
  /** Resolves once a call waiting at the gate learned (from a heartbeat) that its activity is cancelled. */
  readonly cancelRequested: Promise<void> = new Promise((resolve) => (this.noticed = resolve));

  release(): void {
    this.releasedFlag = true;
    this.open();
  }

  get isReleased(): boolean {
    return this.releasedFlag;
  }

  /** @internal */
  arrive(call: ActivityCall): void {
    this.reached(call);
  }

  /** @internal */
  noticeCancel(): void {
    this.noticed();
  }
}

interface FaultTiming {
  /** Before the double's effect (default), or after it: the work happened, then the reply is lost or late. */
  afterEffect?: boolean;
}

export type Fault = FaultTiming &
  (
    | { kind: 'retryable'; message?: string }
    | { kind: 'business'; type: BusinessFailureType; message?: string; details?: BusinessFailureDetails }
    | { kind: 'delay'; ms: number }
    | { kind: 'gate'; gate: Gate; ignoreCancel?: boolean }
  );

/** Builders for faults. */
export const faults = {
  /** Infrastructure trouble: a plain Error, which Temporal retries with the activity's retry policy. */
  retryable: (message = 'injected transient failure', timing: FaultTiming = {}): Fault => ({ kind: 'retryable', message, ...timing }),
  /** A business failure as the real service reports it (non-retryable, typed, with details). */
  business: (type: BusinessFailureType, message?: string, details?: BusinessFailureDetails, timing: FaultTiming = {}): Fault => ({
    kind: 'business',
    type,
    ...(message === undefined ? {} : { message }),
    ...(details === undefined ? {} : { details }),
    ...timing,
  }),
  /**
   * Waits `ms` of real time, heartbeating (time skipping never shortens an activity's own wait; the
   * server does not skip time while an activity is outstanding).
   */
  delay: (ms: number, timing: FaultTiming = {}): Fault => ({ kind: 'delay', ms, ...timing }),
  /**
   * Waits, heartbeating, until the test calls gate.release(); ends early if the activity is cancelled,
   * unless `ignoreCancel`: then it waits on, as a service that does not check for cancellation does,
   * and the activity goes on to complete (or fail) once released. Either way gate.cancelRequested
   * tells the test when the cancellation reached the call.
   */
  gate: (gate: Gate, timing: FaultTiming & { ignoreCancel?: boolean } = {}): Fault => ({ kind: 'gate', gate, ...timing }),
};

export interface FaultRule {
  activity: ActivityName;
  fault: Fault;
  /** Which calls (1-based, per workflow and activity) get the fault: a number, a list, or 'every' (default [1]). */
  calls?: number | readonly number[] | 'every';
  /** Only calls from this workflow id; any workflow's calls when absent. */
  workflowId?: string;
}

/** Which calls of which activities misbehave, and how. */
export class FaultPlan {
  private rules: FaultRule[] = [];

  inject(rule: FaultRule): this {
    this.rules.push(rule);
    return this;
  }

  /** The first `times` calls of an activity fail with `fault`; later ones behave. */
  failFirst(activity: ActivityName, times: number, fault: Fault, workflowId?: string): this {
    const calls = Array.from({ length: times }, (_, i) => i + 1);
    return this.inject({ activity, fault, calls, ...(workflowId === undefined ? {} : { workflowId }) });
  }

  /** Every call of an activity gets `fault`. */
  always(activity: ActivityName, fault: Fault, workflowId?: string): this {
    return this.inject({ activity, fault, calls: 'every', ...(workflowId === undefined ? {} : { workflowId }) });
  }

  clear(): void {
    this.rules = [];
  }

  /** The faults for one call, in the order they were injected. */
  for(call: Pick<ActivityCall, 'activity' | 'workflowId' | 'call'>): Fault[] {
    return this.rules
      .filter((rule) => rule.activity === call.activity && (rule.workflowId === undefined || rule.workflowId === call.workflowId))
      .filter((rule) => {
        const calls = rule.calls ?? [1];
        if (calls === 'every') return true;
        return typeof calls === 'number' ? calls === call.call : calls.includes(call.call);
      })
      .map((rule) => rule.fault);
  }
}

const HEARTBEAT_EVERY_MS = 200;

/**
 * Waits for a promise or a number of ms, heartbeating; a cancelled activity ends with CancelledFailure
 * (unless `ignoreCancel`, when it only reports the cancellation to `onCancel` and waits on).
 */
async function waitHeartbeating(until: Promise<void> | number, options: { ignoreCancel?: boolean; onCancel?: () => void } = {}): Promise<void> {
  const context = Context.current();
  const deadline = typeof until === 'number' ? Date.now() + until : Infinity;
  let done = false;
  if (typeof until !== 'number') void until.then(() => (done = true));
  if (options.onCancel) context.cancelled.catch(options.onCancel);
  const sleep = (ms: number): Promise<void> =>
    options.ignoreCancel ? new Promise((resolve) => setTimeout(resolve, ms)) : context.sleep(ms);
  while (!done && Date.now() < deadline) {
    context.heartbeat();
    const step = Math.min(HEARTBEAT_EVERY_MS, deadline - Date.now());
    // context.sleep rejects with a CancelledFailure when the activity is cancelled.
    await (typeof until === 'number' ? sleep(step) : Promise.race([until, sleep(step)]));
  }
}

async function applyFault(fault: Fault, call: ActivityCall): Promise<void> {
  switch (fault.kind) {
    case 'retryable':
      throw new Error(fault.message ?? 'injected transient failure');
    case 'business':
      throw businessFailure(fault.type, fault.message ?? `injected ${fault.type} (${call.activity} call ${call.call})`, fault.details ?? {});
    case 'delay':
      await waitHeartbeating(fault.ms);
      return;
    case 'gate':
      fault.gate.arrive(call);
      await waitHeartbeating(fault.gate.released, { ignoreCancel: fault.ignoreCancel === true, onCancel: () => fault.gate.noticeCancel() });
      return;
  }
}

function describeError(err: unknown): string {
  if (err instanceof ApplicationFailure) return `${err.type ?? 'ApplicationFailure'}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The order workflow schedules every activity, so each has a workflow to attribute it to. */
function workflowIdOf(info: Context['info']): string {
  const workflowId = info.workflowExecution?.workflowId;
  if (!workflowId) throw new Error(`activity ${info.activityType} runs outside a workflow; the doubles serve the order workflow only`);
  return workflowId;
}

/** Records calls and applies the fault plan around each double. */
export class CallLog {
  readonly calls: ActivityCall[] = [];
  private readonly counts = new Map<string, number>();

  constructor(private readonly plan: FaultPlan) {}

  /** The calls of one activity (of one workflow, if given). */
  of(activity: ActivityName, workflowId?: string): ActivityCall[] {
    return this.calls.filter((c) => c.activity === activity && (workflowId === undefined || c.workflowId === workflowId));
  }

  clear(): void {
    this.calls.length = 0;
    this.counts.clear();
  }

  /**
   * Resolves once no call is running. A workflow does not wait for an activity it cancels, so such
   * a call may still run (until its next heartbeat learns of the cancellation) after the workflow ended.
   */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.calls.filter((c) => c.outcome === 'running');
      if (running.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`activity calls still running after ${timeoutMs} ms: ${running.map((c) => `${c.activity}#${c.call} of ${c.workflowId}`).join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  wrap<I extends unknown[], R>(activity: ActivityName, effect: (...input: I) => R | Promise<R>): (...input: I) => Promise<R> {
    return async (...input: I): Promise<R> => {
      const info = Context.current().info;
      const workflowId = workflowIdOf(info);
      const key = `${workflowId}\u0000${activity}`;
      const number = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, number);
      const call: ActivityCall = {
        activity,
        workflowId,
        call: number,
        attempt: info.attempt,
        input: input.length === 1 ? input[0] : input,
        outcome: 'running',
      };
      this.calls.push(call);
      const planned = this.plan.for(call);
      try {
        for (const fault of planned.filter((f) => !f.afterEffect)) await applyFault(fault, call);
        const result = await effect(...input);
        for (const fault of planned.filter((f) => f.afterEffect)) await applyFault(fault, call);
        call.outcome = 'completed';
        call.result = result;
        return result;
      } catch (err) {
        call.outcome = 'failed';
        call.error = describeError(err);
        throw err;
      }
    };
  }
}

/** The workflow that runs the current activity: service records remember who touched them. */
const currentWorkflowId = (): string => workflowIdOf(Context.current().info);

// ---------------------------------------------------------------------------------------------------
// The event store

export interface StoredOrderEvent {
  version: number;
  eventId: string;
  type: OrderEventType;
  data: unknown;
  metadata: EventMetadata | undefined;
}

/** Key order does not matter to jsonb equality; it must not here either. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * appendOrderEvents and publishOrderEvents over streams in memory. The append follows the real store's
 * rules for a pinned version: it appends when the stream is at expectedVersion; otherwise it answers
 * a repeat of events already stored at those versions as a duplicate, refuses other content at known
 * ids (InvalidOrderEvent), and reports any other mismatch as an EventStreamConcurrencyConflict. Both
 * failures are non-retryable, as in activities/order-events.ts.
 */
export class EventStoreDouble {
  private readonly streams = new Map<string, StoredOrderEvent[]>();
  private readonly registry = new EventRegistry(ORDER_EVENT_DEFINITIONS);
  /** Every range that reached "the brokers", by the append's fast path or by publishOrderEvents. */
  readonly publications: { orderId: string; fromVersion: number; toVersion: number; via: 'append' | 'activity' }[] = [];
  /** Whether an append asked to publish gets through to the brokers (false: the workflow must publish). */
  publishBesideAppend = true;

  /** The order's stored events, oldest first. */
  events(orderId: string): StoredOrderEvent[] {
    return [...(this.streams.get(orderStreamId(orderId)) ?? [])];
  }

  eventTypes(orderId: string): OrderEventType[] {
    return this.events(orderId).map((e) => e.type);
  }

  /** The ids of orders with a stream. */
  orderIds(): string[] {
    return [...this.streams.keys()].map((streamId) => streamId.slice(orderStreamId('').length));
  }

  clear(): void {
    this.streams.clear();
    this.publications.length = 0;
    this.publishBesideAppend = true;
  }

  async appendOrderEvents(input: AppendOrderEventsInput): Promise<AppendOrderEventsResult> {
    try {
      return this.append(input);
    } catch (err) {
      if (err instanceof EventStoreError) throw ApplicationFailure.nonRetryable(err.message, ORDER_EVENT_FAILURES.invalidEvent);
      throw err;
    }
  }

  private append(input: AppendOrderEventsInput): AppendOrderEventsResult {
    const streamId = orderStreamId(input.orderId);
    const { expectedVersion } = input;
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
      throw new InvalidEventError(`Invalid expectedVersion ${JSON.stringify(expectedVersion)}`);
    }
    if (!Array.isArray(input.events) || input.events.length === 0) throw new InvalidEventError('Nothing to append: the event list is empty');
    const incoming = input.events.map((event: OrderEvent, index) => ({
      version: expectedVersion + index + 1,
      eventId: deterministicEventId(streamId, expectedVersion + index + 1),
      type: event.type,
      data: this.registry.validateForAppend(event.type, event.data).data,
      metadata: input.metadata,
    }));
    const stream = this.streams.get(streamId) ?? [];
    const actual = stream.length;
    let version: number;
    let duplicate = false;
    if (actual === expectedVersion) {
      this.streams.set(streamId, [...stream, ...incoming]);
      version = actual + incoming.length;
    } else {
      // The ids derive from the versions, so the known ids are the incoming versions the stream holds.
      const known = incoming.filter((e) => e.version <= actual);
      const matching = known.filter((e) => {
        const stored = stream[e.version - 1];
        return stored !== undefined && stored.type === e.type && canonical(stored.data) === canonical(e.data);
      });
      const adopt = input.adoptStored === true && actual > expectedVersion && (known.length === 0 || known.length !== incoming.length || matching.length !== incoming.length);
      if (adopt) {
        const stored = stream.slice(expectedVersion).map(({ type, data }) => ({ type, data }) as OrderEvent);
        return { version: actual, duplicate: true, published: false, stored };
      }
      if (known.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `Concurrency conflict on stream "${streamId}": expected version ${expectedVersion === 0 ? 'no_stream' : expectedVersion}, actual ${actual}`,
          ORDER_EVENT_FAILURES.concurrency,
          { expected: expectedVersion === 0 ? 'no_stream' : expectedVersion, actual },
        );
      }
      if (known.length !== incoming.length || matching.length !== incoming.length) {
        throw new EventStoreError(
          `idempotency conflict on stream ${streamId}: ${known.length} of ${incoming.length} event ids are already stored, ${matching.length} with the same content`,
        );
      }
      version = expectedVersion + incoming.length;
      duplicate = true;
    }
    // 'later' publishes after answering (so it never answers published), as activities/order-events.ts does.
    const through = input.publish !== undefined && input.publish !== false && this.publishBesideAppend && version > expectedVersion;
    if (through) this.publications.push({ orderId: input.orderId, fromVersion: expectedVersion + 1, toVersion: version, via: 'append' });
    return { version, duplicate, published: through && input.publish === true };
  }

  async publishOrderEvents(input: PublishOrderEventsInput): Promise<{ published: number }> {
    const { orderId, fromVersion, toVersion } = input;
    if (!Number.isSafeInteger(fromVersion) || !Number.isSafeInteger(toVersion) || fromVersion < 1 || toVersion < fromVersion) {
      throw ApplicationFailure.nonRetryable(`Invalid version range ${fromVersion}..${toVersion} for order ${orderId}`, PUBLISHING_FAILURES.invalidRange);
    }
    const events = this.events(orderId).filter((e) => e.version >= fromVersion && e.version <= toVersion);
    const expected = toVersion - fromVersion + 1;
    if (events.length !== expected) {
      throw new Error(`Order ${orderId} has ${events.length} of the ${expected} events ${fromVersion}..${toVersion}`);
    }
    this.publications.push({ orderId, fromVersion, toVersion, via: 'activity' });
    return { published: events.length };
  }
}

// ---------------------------------------------------------------------------------------------------
// Inventory and catalog

export interface ReservationRecord {
  reservationId: string;
  /** Null for a tombstone: released before it was ever reserved. */
  orderId: string | null;
  status: 'reserved' | 'released' | 'committed';
  items: ReservationItem[];
  releaseReason: string | null;
  /** The workflows whose activities touched it. */
  touchedBy: Set<string>;
}

export interface StockLevel {
  available: number;
  reserved: number;
  sold: number;
}

/** Prices for the SKUs tests use; any other SKU is unknown to the catalog. */
export const DEFAULT_CATALOG: readonly Product[] = [
  { sku: 'SKU-BOOK', name: 'A book', unitPrice: moneyOf(1999, 'USD') },
  { sku: 'SKU-MUG', name: 'A mug', unitPrice: moneyOf(850, 'USD') },
  { sku: 'SKU-PEN', name: 'A pen', unitPrice: moneyOf(199, 'USD') },
];
export const DEFAULT_STOCK = 1000;

export class InventoryDouble {
  readonly reservations = new Map<string, ReservationRecord>();
  readonly stock = new Map<string, StockLevel>();
  private readonly catalog = new Map<string, Product>();

  constructor() {
    this.clear();
  }

  clear(): void {
    this.reservations.clear();
    this.catalog.clear();
    this.stock.clear();
    for (const product of DEFAULT_CATALOG) this.addProduct(product);
  }

  /** Puts a product in the catalog, with `available` units in stock. */
  addProduct(product: Product, available = DEFAULT_STOCK): void {
    this.catalog.set(product.sku, product);
    this.stock.set(product.sku, { available, reserved: 0, sold: 0 });
  }

  setAvailable(sku: string, available: number): void {
    const level = this.stock.get(sku);
    if (!level) throw new Error(`no product ${sku} in the catalog double`);
    level.available = available;
  }

  private touch(record: ReservationRecord): ReservationRecord {
    record.touchedBy.add(currentWorkflowId());
    return record;
  }

  private move(items: readonly ReservationItem[], from: keyof StockLevel, to: keyof StockLevel): void {
    for (const { sku, quantity } of items) {
      const level = this.stock.get(sku);
      if (!level) throw new Error(`stock of ${sku} was to move but there is no such product`);
      level[from] -= quantity;
      level[to] += quantity;
    }
  }

  readonly activities = {
    getProduct: async (sku: string): Promise<Product | null> => {
      requireText('sku', sku);
      return this.catalog.get(sku) ?? null;
    },

    reserveInventory: async (input: Parameters<InventoryActivities['reserveInventory']>[0]) => {
      const reservationId = requireText('reservationId', input.reservationId);
      requireText('orderId', input.orderId);
      const items = normaliseItems(input.items);
      const existing = this.reservations.get(reservationId);
      if (existing) {
        this.touch(existing);
        if (existing.status === 'released') {
          throw businessFailure(
            BUSINESS_FAILURES.reservationReleased,
            `Reservation ${reservationId} was released${existing.orderId === null ? ' before it was made' : ''}; it cannot reserve again.`,
            { reservationId },
          );
        }
        if (existing.orderId !== input.orderId || !sameItems(existing.items, items)) {
          throw businessFailure(BUSINESS_FAILURES.idempotencyConflict, `Reservation ${reservationId} already exists for other items or another order.`, {
            reservationId,
          });
        }
        return { reservationId, items: existing.items };
      }
      for (const { sku } of items) {
        if (!this.stock.has(sku)) throw businessFailure(BUSINESS_FAILURES.unknownSku, `No product with SKU "${sku}" exists.`, { sku });
      }
      for (const { sku, quantity } of items) {
        const onHand = this.stock.get(sku)?.available ?? 0;
        if (onHand < quantity) {
          throw businessFailure(BUSINESS_FAILURES.outOfStock, `SKU "${sku}" is out of stock: ${quantity} requested, ${onHand} available.`, {
            sku,
            requested: quantity,
            available: onHand,
          });
        }
      }
      this.move(items, 'available', 'reserved');
      this.reservations.set(
        reservationId,
        this.touch({ reservationId, orderId: input.orderId, status: 'reserved', items, releaseReason: null, touchedBy: new Set() }),
      );
      return { reservationId, items };
    },

    releaseInventory: async (input: Parameters<InventoryActivities['releaseInventory']>[0]) => {
      const reservationId = requireText('reservationId', input.reservationId);
      const reason = requireText('reason', input.reason);
      const existing = this.reservations.get(reservationId);
      if (!existing) {
        this.reservations.set(
          reservationId,
          this.touch({ reservationId, orderId: null, status: 'released', items: [], releaseReason: reason, touchedBy: new Set() }),
        );
        return { released: false };
      }
      this.touch(existing);
      if (existing.status === 'released') return { released: false };
      if (existing.status === 'committed') {
        throw businessFailure(
          BUSINESS_FAILURES.reservationCommitted,
          `Reservation ${reservationId} is committed: its goods are sold and can only come back as a return.`,
          { reservationId },
        );
      }
      this.move(existing.items, 'reserved', 'available');
      existing.status = 'released';
      existing.releaseReason = reason;
      return { released: true };
    },

    commitReservation: async (input: Parameters<InventoryActivities['commitReservation']>[0]) => {
      const reservationId = requireText('reservationId', input.reservationId);
      const existing = this.reservations.get(reservationId);
      if (!existing) {
        throw businessFailure(BUSINESS_FAILURES.reservationNotFound, `Reservation ${reservationId} does not exist.`, { reservationId });
      }
      this.touch(existing);
      if (existing.status === 'committed') return { committed: false };
      if (existing.status === 'released') {
        throw businessFailure(BUSINESS_FAILURES.reservationReleased, `Reservation ${reservationId} was released; it cannot be committed.`, {
          reservationId,
        });
      }
      this.move(existing.items, 'reserved', 'sold');
      existing.status = 'committed';
      return { committed: true };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Payments

export interface PaymentRecord {
  paymentId: string;
  orderId: string | null;
  customerId: string | null;
  amount: Money | null;
  /** voided: refunded before any capture (a tombstone a late capture runs into). */
  status: 'captured' | 'refunded' | 'voided';
  capturedAt: string | null;
  refundReason: string | null;
  touchedBy: Set<string>;
}

/** How a customer's payment method answers; customers a test did not set up approve. */
export type PayerBehaviour = 'approve' | 'decline' | 'no_payment_method';

export class PaymentsDouble {
  readonly payments = new Map<string, PaymentRecord>();
  private readonly payers = new Map<string, PayerBehaviour>();

  clear(): void {
    this.payments.clear();
    this.payers.clear();
  }

  setPayer(customerId: string, behaviour: PayerBehaviour): void {
    this.payers.set(customerId, behaviour);
  }

  private touch(record: PaymentRecord): PaymentRecord {
    record.touchedBy.add(currentWorkflowId());
    return record;
  }

  readonly activities = {
    capturePayment: async (input: Parameters<PaymentActivities['capturePayment']>[0]) => {
      const paymentId = requireText('paymentId', input.paymentId);
      requireText('orderId', input.orderId);
      const customerId = requireText('customerId', input.customerId);
      requireMoney(input.amount);
      const existing = this.payments.get(paymentId);
      if (existing) {
        this.touch(existing);
        if (existing.status !== 'captured') {
          const beforeCapture = existing.status === 'voided';
          throw businessFailure(
            BUSINESS_FAILURES.paymentVoided,
            `Payment ${paymentId} was refunded${beforeCapture ? ' before it was captured' : ''}; it cannot be captured again.`,
            { paymentId, refundedBeforeCapture: beforeCapture },
          );
        }
        if (!existing.amount || existing.capturedAt === null || existing.orderId !== input.orderId || existing.customerId !== customerId || !equals(existing.amount, input.amount)) {
          throw businessFailure(BUSINESS_FAILURES.idempotencyConflict, `Payment ${paymentId} was already captured for another order, customer or amount.`, {
            paymentId,
          });
        }
        return { paymentId, amount: existing.amount, capturedAt: existing.capturedAt };
      }
      const behaviour = this.payers.get(customerId) ?? 'approve';
      if (behaviour !== 'approve') {
        throw businessFailure(
          BUSINESS_FAILURES.paymentDeclined,
          behaviour === 'decline' ? `The payment method of customer ${customerId} was declined.` : `Customer ${customerId} has no payment method.`,
          { customerId, paymentMethodId: null, reason: behaviour === 'decline' ? 'declined' : behaviour },
        );
      }
      const amount = moneyOf(input.amount.amountMinor, input.amount.currency);
      const capturedAt = new Date().toISOString();
      this.payments.set(
        paymentId,
        this.touch({ paymentId, orderId: input.orderId, customerId, amount, status: 'captured', capturedAt, refundReason: null, touchedBy: new Set() }),
      );
      return { paymentId, amount, capturedAt };
    },

    refundPayment: async (input: Parameters<PaymentActivities['refundPayment']>[0]) => {
      const paymentId = requireText('paymentId', input.paymentId);
      const reason = requireText('reason', input.reason);
      const existing = this.payments.get(paymentId);
      if (!existing) {
        this.payments.set(
          paymentId,
          this.touch({
            paymentId,
            orderId: null,
            customerId: null,
            amount: null,
            status: 'voided',
            capturedAt: null,
            refundReason: reason,
            touchedBy: new Set(),
          }),
        );
        return { refunded: false };
      }
      this.touch(existing);
      if (existing.status !== 'captured') return existing.amount ? { refunded: false, amount: existing.amount } : { refunded: false };
      existing.status = 'refunded';
      existing.refundReason = reason;
      return existing.amount ? { refunded: true, amount: existing.amount } : { refunded: true };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Shipping

export interface ShipmentRecord {
  shipmentId: string;
  orderId: string | null;
  customerId: string | null;
  carrier: string | null;
  trackingNumber: string | null;
  items: ReservationItem[] | null;
  status: 'created' | 'cancelled' | 'delivered';
  cancelReason: string | null;
  touchedBy: Set<string>;
}

export class ShippingDouble {
  readonly shipments = new Map<string, ShipmentRecord>();
  private readonly undeliverable = new Set<string>();

  clear(): void {
    this.shipments.clear();
    this.undeliverable.clear();
  }

  /** The customer's address is one no carrier serves. */
  setUndeliverable(customerId: string): void {
    this.undeliverable.add(customerId);
  }

  private touch(record: ShipmentRecord): ShipmentRecord {
    record.touchedBy.add(currentWorkflowId());
    return record;
  }

  private cancelledFailure(shipmentId: string, action: string): Error {
    return businessFailure(BUSINESS_FAILURES.shipmentCancelled, `Shipment ${shipmentId} was cancelled; it cannot ${action}.`, { shipmentId });
  }

  readonly activities = {
    createShipment: async (input: Parameters<ShippingActivities['createShipment']>[0]) => {
      const shipmentId = requireText('shipmentId', input.shipmentId);
      const orderId = requireText('orderId', input.orderId);
      const customerId = requireText('customerId', input.customerId);
      const items = normaliseItems(input.items);
      const existing = this.shipments.get(shipmentId);
      if (existing) {
        this.touch(existing);
        if (existing.status === 'cancelled') throw this.cancelledFailure(shipmentId, 'be created again');
        if (
          existing.carrier === null ||
          existing.trackingNumber === null ||
          existing.orderId !== orderId ||
          existing.customerId !== customerId ||
          existing.items === null ||
          !sameItems(existing.items, items)
        ) {
          throw businessFailure(BUSINESS_FAILURES.idempotencyConflict, `Shipment ${shipmentId} already exists for another order, customer or items.`, {
            shipmentId,
          });
        }
        return { shipmentId, carrier: existing.carrier, trackingNumber: existing.trackingNumber };
      }
      if (this.undeliverable.has(customerId)) {
        throw businessFailure(
          BUSINESS_FAILURES.undeliverableAddress,
          `The address of customer ${customerId} cannot be shipped to: postal code UNDELIVERABLE is not served.`,
          { customerId, reason: 'postal code UNDELIVERABLE is not served' },
        );
      }
      const carrier = 'UPS';
      const trackingNumber = trackingNumberFor(shipmentId, '1Z');
      this.shipments.set(
        shipmentId,
        this.touch({ shipmentId, orderId, customerId, carrier, trackingNumber, items, status: 'created', cancelReason: null, touchedBy: new Set() }),
      );
      return { shipmentId, carrier, trackingNumber };
    },

    cancelShipment: async (input: Parameters<ShippingActivities['cancelShipment']>[0]) => {
      const shipmentId = requireText('shipmentId', input.shipmentId);
      const reason = requireText('reason', input.reason);
      const existing = this.shipments.get(shipmentId);
      if (!existing) {
        this.shipments.set(
          shipmentId,
          this.touch({
            shipmentId,
            orderId: null,
            customerId: null,
            carrier: null,
            trackingNumber: null,
            items: null,
            status: 'cancelled',
            cancelReason: reason,
            touchedBy: new Set(),
          }),
        );
        return { cancelled: false };
      }
      this.touch(existing);
      if (existing.status === 'cancelled') return { cancelled: false };
      if (existing.status === 'delivered') {
        throw businessFailure(BUSINESS_FAILURES.shipmentDelivered, `Shipment ${shipmentId} was delivered; it can no longer be cancelled.`, { shipmentId });
      }
      existing.status = 'cancelled';
      existing.cancelReason = reason;
      return { cancelled: true };
    },

    markDelivered: async (input: Parameters<ShippingActivities['markDelivered']>[0]) => {
      const shipmentId = requireText('shipmentId', input.shipmentId);
      const existing = this.shipments.get(shipmentId);
      if (!existing) throw businessFailure(BUSINESS_FAILURES.shipmentNotFound, `Shipment ${shipmentId} does not exist.`, { shipmentId });
      this.touch(existing);
      if (existing.status === 'delivered') return { delivered: false };
      if (existing.status === 'cancelled') throw this.cancelledFailure(shipmentId, 'be delivered');
      existing.status = 'delivered';
      return { delivered: true };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Notifications

export interface NotificationRecord {
  notificationId: string;
  orderId: string;
  customerId: string;
  total: Money;
  trackingNumber: string | null;
  sentAt: string;
  touchedBy: Set<string>;
}

export class NotificationsDouble {
  readonly sent = new Map<string, NotificationRecord>();

  clear(): void {
    this.sent.clear();
  }

  readonly activities = {
    sendOrderConfirmation: async (input: Parameters<NotificationActivities['sendOrderConfirmation']>[0]) => {
      const notificationId = requireText('notificationId', input.notificationId);
      const orderId = requireText('orderId', input.orderId);
      const customerId = requireText('customerId', input.customerId);
      if (input.trackingNumber !== undefined) requireText('trackingNumber', input.trackingNumber);
      requireMoney(input.total);
      const earlier = this.sent.get(notificationId);
      if (earlier) {
        earlier.touchedBy.add(currentWorkflowId());
        if (
          earlier.orderId !== orderId ||
          earlier.customerId !== customerId ||
          !equals(earlier.total, input.total) ||
          earlier.trackingNumber !== (input.trackingNumber ?? null)
        ) {
          throw businessFailure(BUSINESS_FAILURES.idempotencyConflict, `Notification ${notificationId} was already sent with other content.`, {
            notificationId,
          });
        }
        return { notificationId, sentAt: earlier.sentAt };
      }
      const sentAt = new Date().toISOString();
      this.sent.set(notificationId, {
        notificationId,
        orderId,
        customerId,
        total: moneyOf(input.total.amountMinor, input.total.currency),
        trackingNumber: input.trackingNumber ?? null,
        sentAt,
        touchedBy: new Set([currentWorkflowId()]),
      });
      return { notificationId, sentAt };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// All of them

/** What the services hold for one order (the records its workflow touched). */
export interface OrderServiceState {
  reservations: ReservationRecord[];
  payments: PaymentRecord[];
  shipments: ShipmentRecord[];
  notifications: NotificationRecord[];
}

/** Every double of the saga, the fault plan and the call log, with the activities per task queue. */
export class SagaDoubles {
  readonly faults = new FaultPlan();
  readonly log = new CallLog(this.faults);
  readonly eventStore = new EventStoreDouble();
  readonly inventory = new InventoryDouble();
  readonly payments = new PaymentsDouble();
  readonly shipping = new ShippingDouble();
  readonly notifications = new NotificationsDouble();

  /** Forgets every call, fault and record: a clean slate for the next test. */
  clear(): void {
    this.faults.clear();
    this.log.clear();
    this.eventStore.clear();
    this.inventory.clear();
    this.payments.clear();
    this.shipping.clear();
    this.notifications.clear();
  }

  /** The records touched by one workflow. */
  serviceState(workflowId: string): OrderServiceState {
    const touched = <T extends { touchedBy: Set<string> }>(records: Map<string, T>): T[] =>
      [...records.values()].filter((r) => r.touchedBy.has(workflowId));
    return {
      reservations: touched(this.inventory.reservations),
      payments: touched(this.payments.payments),
      shipments: touched(this.shipping.shipments),
      notifications: touched(this.notifications.sent),
    };
  }

  /** The activities each task queue's worker registers, each wrapped with the call log and faults. */
  activitiesFor(queue: QueueName): Partial<AllActivities> {
    const all = {
      appendOrderEvents: (input: AppendOrderEventsInput) => this.eventStore.appendOrderEvents(input),
      publishOrderEvents: (input: PublishOrderEventsInput) => this.eventStore.publishOrderEvents(input),
      ...this.inventory.activities,
      ...this.payments.activities,
      ...this.shipping.activities,
      ...this.notifications.activities,
    } satisfies { [Name in ActivityName]: (...args: Parameters<AllActivities[Name]>) => Promise<unknown> };
    const wrapped: Record<string, unknown> = {};
    for (const name of ACTIVITIES_BY_QUEUE[queue]) {
      wrapped[name] = this.log.wrap(name, all[name] as (...args: unknown[]) => Promise<unknown>);
    }
    return wrapped as Partial<AllActivities>;
  }
}
