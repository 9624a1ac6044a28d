import { log, patched, proxyActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { PublishingActivities } from '../../activities/publishing';
import type { EventMetadata } from '../../eventstore/types';
import type { OrderEventActivities } from '../../activities/order-events';
import { decide, evolve, initialOrderState, money, type OrderCommand, type OrderState } from '../../domain';
import { CustomerIdKey, OrderStatusKey, OrderTotalKey } from '../search-attributes';
import { TASK_QUEUES } from '../task-queues';

const { appendOrderEvents } = proxyActivities<OrderEventActivities>({
  taskQueue: TASK_QUEUES.orders,
  startToCloseTimeout: '10s',
  // The store must eventually take the events; conflicts and invalid events fail non-retryably.
  retry: { initialInterval: '200ms', maximumInterval: '5s' },
});

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
 * The workflow's view of its order: the domain decides each command's events, an activity appends
 * them (the workflow is the stream's only writer), and the state evolves from them.
 *
 * Commands are decided at once, in call order, against the state after every command recorded so
 * far, so update validators see what is already decided (e.g. the creation, while its append is still
 * in flight); the appends then follow one after another, each expecting the version before it.
 */
export class OrderLedger {
  private decided: OrderState = initialOrderState;
  private persistedVersion = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private publishing: Promise<void> = Promise.resolve();
  /** Publications queued on the publishing activity: while any is, appends do not publish (it would overtake them). */
  private queuedPublications = 0;

  constructor(
    private readonly orderId: string,
    private readonly metadata: EventMetadata,
  ) {}

  /** The order with every recorded command applied. */
  get state(): OrderState {
    return this.decided;
  }

  /** The stream version the event store holds so far. */
  get version(): number {
    return this.persistedVersion;
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

  /** Resolves once every publication started so far has finished: wait for it before the workflow ends. */
  published(): Promise<void> {
    return this.publishing;
  }

  /** Applies the rules without recording anything: for update validators. Throws on a violation. */
  check(command: OrderCommand): void {
    decide(command, this.decided);
  }

  /**
   * Decides now (throwing a rule violation at once), then resolves, once the events are stored, to the
   * order as this command left it.
   */
  record(command: OrderCommand): Promise<OrderState> {
    const events = decide(command, this.decided);
    const expectedVersion = this.decided.version;
    this.decided = events.reduce(evolve, this.decided);
    const stored = this.decided;
    const run = this.tail.then(async () => {
      if (events.length === 0) return stored;
      const withAppend = patched(PUBLISH_WITH_APPEND_PATCH) && this.queuedPublications === 0;
      const appended = await appendOrderEvents({
        orderId: this.orderId,
        expectedVersion,
        events,
        metadata: { ...this.metadata, causationId: command.type },
        ...(withAppend ? { publish: true } : {}),
      });
      this.persistedVersion = stored.version;
      publishState(stored);
      if (!withAppend || !appended.published) this.publish(expectedVersion + 1, stored.version);
      return stored;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}

/** Search attributes (for the Web UI's filters) and a readable summary of where the order stands. */
function publishState(state: OrderState): void {
  const { status, customerId, total } = state;
  upsertSearchAttributes([
    { key: OrderStatusKey, value: status },
    ...(customerId ? [{ key: CustomerIdKey, value: customerId }] : []),
    ...(total ? [{ key: OrderTotalKey, value: total.amountMinor / 10 ** money.minorUnitDigits(total.currency) }] : []),
  ]);
  setCurrentDetails(`**${status}**${total ? ` · ${money.format(total)}` : ''} · stream version ${state.version}`);
}
