import {
  ApplicationFailure,
  CancellationScope,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SearchAttributePair } from '@temporalio/common';
import type { PublishingActivities } from '../../activities/publishing';
import type { EventMetadata } from '../../eventstore/types';
import type { OrderEventActivities } from '../../activities/order-events';
import { decide, decideAll, evolve, initialOrderState, money, type OrderCommand, type OrderEvent, type OrderState } from '../../domain';
import { CustomerIdKey, OrderStatusKey, OrderTotalKey } from '../search-attributes';
import { TASK_QUEUES } from '../task-queues';

// The store must eventually take the events; conflicts and invalid events fail non-retryably.
const appendOptions = { startToCloseTimeout: '10s', retry: { initialInterval: '200ms', maximumInterval: '5s' } } as const;
const { appendOrderEvents } = proxyActivities<OrderEventActivities>({ taskQueue: TASK_QUEUES.orders, ...appendOptions });
// Beside the workflow, on its own worker: an append takes milliseconds, and a local activity spares it
// the task queue round trip and the workflow task that would follow (see LOCAL_ACTIVITIES_PATCH).
const { appendOrderEvents: appendOrderEventsLocally } = proxyLocalActivities<OrderEventActivities>(appendOptions);

const { publishOrderEvents } = proxyActivities<PublishingActivities>({
  taskQueue: TASK_QUEUES.orders,
  startToCloseTimeout: '15s',
  // A broker outage must not hold the order back: a few tries, then the outbox relay delivers.
  retry: { initialInterval: '500ms', maximumInterval: '5s', maximumAttempts: 4 },
});

/** 2026-11: the workflow publishes the events it appended (the relay stays the safety net). */
export const PUBLISH_AFTER_APPEND_PATCH = 'publish-after-append';
/**
 * 2026-11: the append activity publishes the events itself, and the publishing activity runs only
 * when that did not get through: one activity per step instead of two.
 */
export const PUBLISH_WITH_APPEND_PATCH = 'publish-with-append';

/**
 * 2026-12: appends (and the catalog look-up) run as local activities; an append publishes its events
 * itself and leaves what did not get through to the outbox relay (no publishing activity); search
 * attributes are upserted only when they change.
 */
export const LOCAL_ACTIVITIES_PATCH = 'local-activities';

/** The event store refused an append for good (a bug, never a timing): the order must still unwind. */
export class AppendRefused extends Error {
  constructor(
    readonly command: OrderCommand['type'],
    cause: unknown,
  ) {
    super(`the event store refused ${command}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'AppendRefused';
  }
}

interface Pending {
  command: OrderCommand;
}

/**
 * The workflow's view of its order. It believes only in events the store holds: each command is
 * decided against the stored state when its turn to append comes (the appends follow one another),
 * and a command whose append did not happen (cancelled, refused) leaves no trace in that state.
 *
 * Commands waiting for their turn are shown in `state` (what queries and update validators see), so
 * that e.g. an update buffered since the start is judged against the order its creation will make.
 */
export class OrderLedger {
  private stored: OrderState = initialOrderState;
  private readonly pending: Pending[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private publishing: Promise<void> = Promise.resolve();
  /** Publications queued on the publishing activity: while any is, appends do not publish (it would overtake them). */
  private queuedPublications = 0;
  /** Appends the store refused for good: each one is a bug, surfaced in logs and the OrderStatus search attribute. */
  readonly refused: AppendRefused[] = [];

  /**
   * The first version's view, kept for histories recorded before the cancel-safe-saga patch: decided
   * at call time, moved before the append and never taken back (replays must repeat it exactly).
   */
  private legacyDecided: OrderState | undefined;

  /** Appends run as local activities and publish on their own (LOCAL_ACTIVITIES_PATCH). */
  private readonly local: boolean;

  constructor(
    private readonly orderId: string,
    private readonly metadata: EventMetadata,
    options: { legacy?: boolean; local?: boolean } = {},
  ) {
    if (options.legacy) this.legacyDecided = initialOrderState;
    this.local = options.local === true;
  }

  /** The order as the store holds it: the ground for every closing decision. */
  get storedState(): OrderState {
    return this.stored;
  }

  /** The stored order with the commands still waiting to be appended applied (those that still apply). */
  get state(): OrderState {
    if (this.legacyDecided) return this.legacyDecided;
    let state = this.stored;
    for (const { command } of this.pending) {
      try {
        state = decide(command, state).reduce(evolve, state);
      } catch {
        // It will be refused at its turn too; the view shows what will be stored.
      }
    }
    return state;
  }

  /** The stream version the event store holds so far. */
  get version(): number {
    return this.stored.version;
  }

  /**
   * Publishes appended events that the append did not publish, beside the saga, not in its way;
   * publications follow one another so each order's events leave in version order. A failure is
   * left to the relay.
   */
  private publish(fromVersion: number, toVersion: number): void {
    if (!patched(PUBLISH_AFTER_APPEND_PATCH)) return;
    this.queuedPublications++;
    this.publishing = this.publishing.then(() =>
      publishOrderEvents({ orderId: this.orderId, fromVersion, toVersion }).then(
        () => void this.queuedPublications--,
        (err: unknown) => {
          this.queuedPublications--;
          log.warn('publishing failed; the outbox relay will deliver', { fromVersion, toVersion, err });
        },
      ),
    );
  }

  /** Resolves once every command recorded so far has been appended or refused. */
  settled(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /** Resolves once every publication started so far has finished: wait for it before the workflow ends. */
  published(): Promise<void> {
    return this.publishing;
  }

  /** Applies the rules to the order as it will stand, without recording anything: for update validators. */
  check(command: OrderCommand): void {
    decide(command, this.state);
  }

  /**
   * Checks the rules now (throwing a violation at once), then, in turn, decides against the stored
   * order and appends. Resolves to the order as this command left it once its events are stored;
   * rejects with the rule violation if the order changed meanwhile, with AppendRefused if the store
   * refused the events, or with the cancellation if the scope it was called in was cancelled.
   */
  record(command: OrderCommand): Promise<OrderState> {
    if (this.legacyDecided) return this.recordAsFirstVersion(command, this.legacyDecided);
    this.check(command);
    const entry: Pending = { command };
    this.pending.push(entry);
    const run = this.tail.then(() => this.append(command)).finally(() => {
      this.pending.splice(this.pending.indexOf(entry), 1);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private recordAsFirstVersion(command: OrderCommand, decided: OrderState): Promise<OrderState> {
    const events = decide(command, decided);
    const after = events.reduce(evolve, decided);
    this.legacyDecided = after;
    const run = this.tail.then(() => this.append(command, { before: decided, events, after }));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async append(
    command: OrderCommand,
    decided?: { before: OrderState; events: OrderEvent[]; after: OrderState; batch?: readonly OrderCommand[] },
  ): Promise<OrderState> {
    const before = decided?.before ?? this.stored;
    const events: OrderEvent[] = decided?.events ?? decide(command, before);
    if (events.length === 0) return decided?.after ?? before;
    const after = decided?.after ?? events.reduce(evolve, before);
    const withAppend = this.local || (patched(PUBLISH_WITH_APPEND_PATCH) && this.queuedPublications === 0);
    const append = this.local ? appendOrderEventsLocally : appendOrderEvents;
    const call = () =>
      append({
        orderId: this.orderId,
        expectedVersion: before.version,
        events,
        metadata: { ...this.metadata, causationId: command.type },
        // A local append's events the relay delivers if the fast path does not: nothing waits for the brokers.
        ...(withAppend ? { publish: this.local ? ('later' as const) : true } : {}),
        ...(this.local ? { adoptStored: true } : {}),
      });
    let appended: Awaited<ReturnType<typeof appendOrderEvents>>;
    try {
      // No cancel cuts an append short: a cancelled activity may still have written, and the ledger
      // must know what the store holds. (The first version let it be cancelled; its replays do too.)
      appended = await (this.legacyDecided ? call() : CancellationScope.nonCancellable(call));
    } catch (err) {
      if (!this.legacyDecided && isRefusal(err)) throw this.refuse(command, err);
      throw err;
    }
    if (appended.stored) {
      // A lost workflow task appended these (see adoptStored): they are the order now, and the command
      // is decided again on that ground (often to nothing, when it was one of them).
      this.stored = appended.stored.reduce(evolve, before);
      this.publishState(this.stored);
      return decided?.batch ? this.appendAll(decided.batch, command) : this.append(command);
    }
    this.stored = after;
    this.publishState(after);
    // What the append could not publish, the relay will (a local append has no activity to retry it).
    if (!this.local && (!withAppend || !appended.published)) this.publish(before.version + 1, after.version);
    return after;
  }

  private refuse(command: OrderCommand, err: unknown): AppendRefused {
    const refusal = new AppendRefused(command.type, err);
    this.refused.push(refusal);
    log.error('the event store refused an append; the order goes on from what is stored', {
      command: command.type,
      storedVersion: this.stored.version,
      err,
    });
    this.publishState(this.stored);
    return refusal;
  }

  private publishState(state: OrderState): void {
    publishState(state, this.refused.length > 0, { onlyChanges: this.local });
  }

  /**
   * record() for several commands at once (a checkout): all checked now, then, at their turn, decided
   * in order against the stored order and appended in ONE append, so either all their events are
   * stored or none. Resolves to the order as they left it.
   */
  recordAll(commands: readonly OrderCommand[]): Promise<OrderState> {
    const [first] = commands;
    if (first === undefined) return this.settled().then(() => this.state);
    if (this.legacyDecided) throw new Error('recordAll is not available to histories of the first version');
    decideAll(commands, this.state);
    const entries: Pending[] = commands.map((command) => ({ command }));
    this.pending.push(...entries);
    const run = this.tail
      .then(() => this.appendAll(commands, first))
      .finally(() => {
        for (const entry of entries) this.pending.splice(this.pending.indexOf(entry), 1);
      });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** `first` (the first of the commands) names the cause in the events' metadata, and a refusal. */
  private appendAll(commands: readonly OrderCommand[], first: OrderCommand): Promise<OrderState> {
    const before = this.stored;
    const { events, state: after } = decideAll(commands, before);
    return this.append(first, { before, events, after, batch: commands });
  }
}

/** A non-retryable failure of the append activity: the store will never take these events. */
function isRefusal(err: unknown): boolean {
  let cause: unknown = err;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
    if (cause instanceof ApplicationFailure && cause.nonRetryable) return true;
    cause = cause.cause;
  }
  return false;
}

/** The OrderStatus value an operator searches for when an append was refused (a bug to look into). */
export const APPEND_REFUSED_STATUS = 'append_refused';

/**
 * Search attributes (for the Web UI's filters) and a readable summary of where the order stands. Each
 * upsert is a history event: with onlyChanges, values the workflow already carries are left out.
 */
function publishState(state: OrderState, refused: boolean, { onlyChanges }: { onlyChanges: boolean }): void {
  const { status, customerId, total } = state;
  const pairs: SearchAttributePair[] = [
    { key: OrderStatusKey, value: refused ? APPEND_REFUSED_STATUS : status },
    ...(customerId ? [{ key: CustomerIdKey, value: customerId }] : []),
    ...(total ? [{ key: OrderTotalKey, value: total.amountMinor / 10 ** money.minorUnitDigits(total.currency) }] : []),
  ];
  const current = workflowInfo().typedSearchAttributes;
  const changed = onlyChanges ? pairs.filter((pair) => current.get(pair.key) !== pair.value) : pairs;
  if (changed.length > 0) upsertSearchAttributes(changed);
  const warning = refused ? ' · ⚠ an append was refused: see the worker log' : '';
  setCurrentDetails(`**${status}**${total ? ` · ${money.format(total)}` : ''} · stream version ${state.version}${warning}`);
}
