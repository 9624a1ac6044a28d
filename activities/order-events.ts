import { ApplicationFailure } from '@temporalio/common';
import {
  ConcurrencyError,
  EventStoreError,
  PostgresEventStore,
  deterministicEventId,
  type EventMetadata,
} from '../eventstore';
import { ORDER_STREAM_TYPE, orderStreamId, type OrderEvent } from '../domain';

export interface AppendOrderEventsInput {
  orderId: string;
  /** The stream version the workflow's state reflects; the events go right after it. */
  expectedVersion: number;
  events: OrderEvent[];
  metadata?: EventMetadata;
}

export interface AppendOrderEventsResult {
  version: number;
  duplicate: boolean;
}

/** Failure types the workflow may see from these activities; both mean a bug, so neither is retried. */
export const ORDER_EVENT_FAILURES = {
  concurrency: 'EventStreamConcurrencyConflict',
  invalidEvent: 'InvalidOrderEvent',
} as const;

/**
 * The order workflow is its stream's only writer: it decides events with the domain's rules and this
 * activity appends them. Event ids derive from the stream position, so a retried activity (or a
 * replayed workflow) appends nothing twice.
 */
export function createOrderEventActivities(store: PostgresEventStore) {
  return {
    async appendOrderEvents(input: AppendOrderEventsInput): Promise<AppendOrderEventsResult> {
      const streamId = orderStreamId(input.orderId);
      const events = input.events.map((event, index) => ({
        eventId: deterministicEventId(streamId, input.expectedVersion + index + 1),
        type: event.type,
        data: event.data,
        metadata: input.metadata,
      }));
      try {
        const result = await store.append(streamId, events, {
          expectedVersion: input.expectedVersion === 0 ? 'no_stream' : input.expectedVersion,
          streamType: ORDER_STREAM_TYPE,
        });
        return { version: result.nextExpectedVersion, duplicate: result.duplicate };
      } catch (err) {
        if (err instanceof ConcurrencyError) {
          throw ApplicationFailure.nonRetryable(err.message, ORDER_EVENT_FAILURES.concurrency, {
            expected: err.expected,
            actual: err.actual,
          });
        }
        if (err instanceof EventStoreError) {
          throw ApplicationFailure.nonRetryable(err.message, ORDER_EVENT_FAILURES.invalidEvent);
        }
        throw err;
      }
    },
  };
}

export type OrderEventActivities = ReturnType<typeof createOrderEventActivities>;
