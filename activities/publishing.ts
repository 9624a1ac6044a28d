import { ApplicationFailure } from '@temporalio/common';
import type { PostgresEventStore, StoredEvent } from '../eventstore';
import { orderStreamId } from '../domain/order/events';
import { withTimeout } from '../messaging/async';
import type { FastPathDeliveries } from '../messaging/relay/fast-path-deliveries';
import type { EventPublisher } from '../messaging/publisher';
import type { Logger } from '../infra/logger';

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

/**
 * Reads an order's committed events back from the store (never taking them from the workflow, so what
 * is published is exactly what was committed) and publishes them to every broker, each to the end: if
 * one fails, the caller publishes again and the other gets duplicates at worst (consumers deduplicate
 * by event id).
 */
async function publishCommitted(deps: PublishingDependencies, input: PublishOrderEventsInput): Promise<number> {
  const { orderId, fromVersion, toVersion } = input;
  if (!Number.isSafeInteger(fromVersion) || !Number.isSafeInteger(toVersion) || fromVersion < 1 || toVersion < fromVersion) {
    throw ApplicationFailure.nonRetryable(
      `Invalid version range ${fromVersion}..${toVersion} for order ${orderId}`,
      PUBLISHING_FAILURES.invalidRange,
    );
  }
  const expected = toVersion - fromVersion + 1;
  const events: StoredEvent[] = await deps.store.readStream(orderStreamId(orderId), { fromVersion, limit: expected });
  if (events.length !== expected) {
    // Retryable: publishing follows a completed append, so a short read is transient.
    throw new Error(`Order ${orderId} has ${events.length} of the ${expected} events ${fromVersion}..${toVersion}`);
  }
  const results = await Promise.allSettled(deps.publishers.map((publisher) => publisher.publish(events)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  // Only spares the relay a repeat: if it cannot be recorded, the relay publishes a duplicate.
  await deps.deliveries?.record(events).catch(() => undefined);
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
      await withTimeout(publishCommitted(this.deps, input), this.timeoutMs, () => new Error(`not confirmed within ${this.timeoutMs} ms`));
      return true;
    } catch (err) {
      this.pausedUntil = Date.now() + this.pauseAfterFailureMs;
      this.options.logger?.warn(
        { orderId: input.orderId, pauseMs: this.pauseAfterFailureMs, err: err instanceof Error ? err.message : String(err) },
        'publishing beside the append failed; the publishing activity takes over',
      );
      return false;
    }
  }
}
