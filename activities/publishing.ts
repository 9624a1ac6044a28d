import { ApplicationFailure } from '@temporalio/common';
import type { PostgresEventStore } from '../eventstore';
import { orderStreamId } from '../domain/order/events';
import type { EventPublisher } from '../messaging/publisher';

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
}

/** Failure types the workflow may see; an invalid range is a bug, so it is not retried. */
export const PUBLISHING_FAILURES = {
  invalidRange: 'InvalidPublishRange',
} as const;

/**
 * The fast path to the brokers: the workflow publishes an order's events right after appending them,
 * so consumers see them without waiting for the relay's next poll. The events are read back from the
 * store (never taken from the workflow), so what is published is exactly what was committed.
 * Idempotent: a retried activity republishes, and consumers deduplicate by event id. The relay
 * (messaging/relay.ts) remains the guarantee for anything this activity never delivered.
 */
export function createPublishingActivities(deps: PublishingDependencies) {
  return {
    async publishOrderEvents(input: PublishOrderEventsInput): Promise<PublishOrderEventsResult> {
      const { orderId, fromVersion, toVersion } = input;
      if (!Number.isSafeInteger(fromVersion) || !Number.isSafeInteger(toVersion) || fromVersion < 1 || toVersion < fromVersion) {
        throw ApplicationFailure.nonRetryable(
          `Invalid version range ${fromVersion}..${toVersion} for order ${orderId}`,
          PUBLISHING_FAILURES.invalidRange,
        );
      }
      const expected = toVersion - fromVersion + 1;
      const events = await deps.store.readStream(orderStreamId(orderId), { fromVersion, limit: expected });
      if (events.length !== expected) {
        // Retryable: the workflow calls this after the append completed, so a short read is transient.
        throw new Error(`Order ${orderId} has ${events.length} of the ${expected} events ${fromVersion}..${toVersion}`);
      }
      // Both brokers at once, each to the end: if one fails the activity is retried and the other gets
      // duplicates at worst.
      const results = await Promise.allSettled(deps.publishers.map((publisher) => publisher.publish(events)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return { published: events.length };
    },
  };
}

export type PublishingActivities = ReturnType<typeof createPublishingActivities>;
