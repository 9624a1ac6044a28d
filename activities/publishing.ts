import { ApplicationFailure } from '@temporalio/common';
import type { PostgresEventStore, StoredEvent } from '../eventstore';
import { orderStreamId } from '../domain/order/events';
import { withTimeout } from '../messaging/async';
import type { FastPathDeliveries } from '../messaging/relay/fast-path-deliveries';
import type { EventPublisher } from '../messaging/publisher';
import type { Logger } from '../infra/logger';
import { ROOT_CONTEXT, context } from '../infra/tracing';

export interface PublishOrderEventsInput {
  orderId: string;
  /** The first stream version to publish (inclusive). */
  fromVersion: number;
  /** The last stream version to publish (inclusive). */
  toVersion: number;
}

export interface PublishOrderEventsResult {
  published: number;
}

export interface PublishingDependencies {
  store: PostgresEventStore;
  /** Usually one per broker: RabbitMqPublisher and KafkaPublisher. */
  publishers: readonly EventPublisher[];
  /** Where confirmed events are recorded, so that the outbox relay does not publish them again. */
  deliveries?: FastPathDeliveries;
}

/** Failure types the workflow may see; an invalid range is a bug, so it is not retried. */
export const PUBLISHING_FAILURES = {
  invalidRange: 'InvalidPublishRange',
} as const;

/** An order's committed events in the range, read back from the store (never taken from the workflow). */
async function readCommitted(store: PostgresEventStore, input: PublishOrderEventsInput): Promise<StoredEvent[]> {
  const { orderId, fromVersion, toVersion } = input;
  if (!Number.isSafeInteger(fromVersion) || !Number.isSafeInteger(toVersion) || fromVersion < 1 || toVersion < fromVersion) {
    throw ApplicationFailure.nonRetryable(
      `Invalid version range ${fromVersion}..${toVersion} for order ${orderId}`,
      PUBLISHING_FAILURES.invalidRange,
    );
  }
  const expected = toVersion - fromVersion + 1;
  const events: StoredEvent[] = await store.readStream(orderStreamId(orderId), { fromVersion, limit: expected });
  if (events.length !== expected) {
    // Retryable: publishing follows a completed append, so a short read is transient.
    throw new Error(`Order ${orderId} has ${events.length} of the ${expected} events ${fromVersion}..${toVersion}`);
  }
  return events;
}

/**
 * Publishes committed events to every broker, each to the end: if one fails, the caller publishes
 * again and the other gets duplicates at worst (consumers deduplicate by event id).
 */
async function publishToEveryBroker(deps: PublishingDependencies, events: readonly StoredEvent[]): Promise<void> {
  const results = await Promise.allSettled(deps.publishers.map((publisher) => publisher.publish(events)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  // Only spares the relay a repeat: if it cannot be recorded, the relay publishes a duplicate.
  await deps.deliveries?.record(events).catch(() => undefined);
}

async function publishCommitted(deps: PublishingDependencies, input: PublishOrderEventsInput): Promise<number> {
  const events = await readCommitted(deps.store, input);
  await publishToEveryBroker(deps, events);
  return events.length;
}

/**
 * The durable path to the brokers: an activity the workflow schedules when publishing beside the
 * append did not get through, so Temporal retries it. Idempotent: a retry republishes. The relay
 * (messaging/relay/outbox-relay.ts) remains the guarantee for anything no activity delivered.
 */
export function createPublishingActivities(deps: PublishingDependencies) {
  return {
    async publishOrderEvents(input: PublishOrderEventsInput): Promise<PublishOrderEventsResult> {
      return { published: await publishCommitted(deps, input) };
    },
  };
}

export type PublishingActivities = ReturnType<typeof createPublishingActivities>;

export interface PublishingBesideAppendOptions {
  /** How long the append activity waits for the brokers before leaving the events to the durable path. */
  timeoutMs?: number;
  /** After a failure, how long appends skip publishing (a broker that is down would slow every append). */
  pauseAfterFailureMs?: number;
  /** At most this many appends' events go to the brokers in one batch when publishing in the background. */
  maxAppendsPerBatch?: number;
  /** Appends queued for the background beyond this are left to the relay (a slow broker must not grow the queue without end). */
  maxQueuedAppends?: number;
  logger?: Logger;
}

/**
 * The fast path: the append activity publishes the events it has just committed, which costs no
 * activity of its own. It is best effort and bounded, so a slow or absent broker never holds an append
 * back: on a failure or a timeout it answers false (the workflow then schedules publishOrderEvents),
 * and for a while after a failure it does not try at all.
 */
export class PublishingBesideAppend {
  private pausedUntil = 0;
  private readonly timeoutMs: number;
  private readonly pauseAfterFailureMs: number;
  private readonly queued: PublishOrderEventsInput[] = [];
  private pump: Promise<void> | undefined;

  constructor(
    private readonly deps: PublishingDependencies,
    private readonly options: PublishingBesideAppendOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.pauseAfterFailureMs = options.pauseAfterFailureMs ?? 10_000;
  }

  /** True once every broker confirmed the range; false when the durable path has to deliver it. */
  async tryPublish(input: PublishOrderEventsInput): Promise<boolean> {
    if (Date.now() < this.pausedUntil) return false;
    try {
      await this.bounded(publishCommitted(this.deps, input));
      return true;
    } catch (err) {
      this.failed(err, input.orderId, 'the publishing activity takes over');
      return false;
    }
  }

  /**
   * Publishes the range after the append has answered, off the workflow's path, for an append whose
   * caller leaves what does not get through to the outbox relay. Ranges queued while a batch is out go
   * together in the next one (one send per broker for many appends); they leave in the order queued, so
   * each order's events in version order. A failure drops what is queued, which the relay delivers.
   */
  publishLater(input: PublishOrderEventsInput): void {
    if (Date.now() < this.pausedUntil || this.queued.length >= (this.options.maxQueuedAppends ?? 10_000)) return;
    this.queued.push(input);
    // Outside the span of the append that happens to start it: a batch holds other orders' events too
    // (messaging/tracing.ts then continues each one's stored context).
    this.pump ??= context.with(ROOT_CONTEXT, () => this.publishQueued()).finally(() => {
      this.pump = undefined;
    });
  }

  /** Resolves once every range queued so far has been published or left to the relay (for a graceful stop). */
  async flush(): Promise<void> {
    while (this.pump) await this.pump;
  }

  private async publishQueued(): Promise<void> {
    const perBatch = this.options.maxAppendsPerBatch ?? 200;
    while (this.queued.length > 0) {
      const ranges = this.queued.splice(0, perBatch);
      try {
        await this.bounded(this.publishRanges(ranges));
      } catch (err) {
        this.queued.length = 0;
        this.failed(err, ranges[0]!.orderId, 'the outbox relay delivers');
      }
    }
  }

  private async publishRanges(ranges: readonly PublishOrderEventsInput[]): Promise<void> {
    const events = await Promise.all(ranges.map((range) => readCommitted(this.deps.store, range)));
    await publishToEveryBroker(this.deps, events.flat());
  }

  private bounded(publishing: Promise<unknown>): Promise<unknown> {
    return withTimeout(publishing, this.timeoutMs, () => new Error(`not confirmed within ${this.timeoutMs} ms`));
  }

  private failed(err: unknown, orderId: string, fallback: string): void {
    this.pausedUntil = Date.now() + this.pauseAfterFailureMs;
    this.options.logger?.warn(
      { orderId, pauseMs: this.pauseAfterFailureMs, err: err instanceof Error ? err.message : String(err) },
      `publishing beside the append failed; ${fallback}`,
    );
  }
}
