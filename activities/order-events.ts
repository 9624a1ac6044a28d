import { ApplicationFailure } from '@temporalio/common';
import {
  ConcurrencyError,
  EventStoreError,
  IdempotencyConflictError,
  PostgresEventStore,
  deterministicEventId,
  type AppendResult,
  type EventMetadata,
} from '../eventstore';
import { ORDER_STREAM_TYPE, orderStreamId, type OrderEvent } from '../domain';
import type { PublishingBesideAppend } from './publishing';
import { traceparentOf } from '../infra/tracing';

export interface AppendOrderEventsInput {
  orderId: string;
  /** The stream version the workflow's state reflects; the events go right after it. */
  expectedVersion: number;
  events: OrderEvent[];
  metadata?: EventMetadata;
  /**
   * Also publish the appended events to the brokers, best effort (see PublishingBesideAppend): true
   * waits for the brokers and answers whether they confirmed; 'later' publishes after answering, for a
   * caller that leaves what does not get through to the outbox relay.
   */
  publish?: boolean | 'later';
  /**
   * When the stream already holds other events after expectedVersion, answer with them (`stored`)
   * instead of refusing. For appends run as local activities: a workflow task whose local activity
   * appended, then was lost (the worker died, or the server refused the task's completion), is run
   * again with a new clock, and decides the same events with other times, or other events.
   */
  adoptStored?: boolean;
}

export interface AppendOrderEventsResult {
  version: number;
  duplicate: boolean;
  /** Every broker confirmed the events: true only if asked to publish and it went through. */
  published: boolean;
  /** With adoptStored: what the stream held after expectedVersion instead of `events` (nothing was appended). */
  stored?: OrderEvent[];
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
export function createOrderEventActivities(store: PostgresEventStore, publishing?: PublishingBesideAppend) {
  return {
    async appendOrderEvents(input: AppendOrderEventsInput): Promise<AppendOrderEventsResult> {
      const streamId = orderStreamId(input.orderId);
      // The events keep this activity's trace context, so that whatever picks them up later (the relay, a
      // projector) continues the order's trace.
      const traceparent = input.metadata?.traceparent ?? traceparentOf();
      const metadata = traceparent === undefined ? input.metadata : { ...input.metadata, traceparent };
      const events = input.events.map((event, index) => ({
        eventId: deterministicEventId(streamId, input.expectedVersion + index + 1),
        type: event.type,
        data: event.data,
        metadata,
      }));
      let result: AppendResult;
      try {
        result = await store.append(streamId, events, {
          expectedVersion: input.expectedVersion === 0 ? 'no_stream' : input.expectedVersion,
          streamType: ORDER_STREAM_TYPE,
        });
      } catch (err) {
        const taken = err instanceof IdempotencyConflictError || (err instanceof ConcurrencyError && err.actual > input.expectedVersion);
        if (input.adoptStored && taken) {
          const stored = await store.readStream(streamId, { fromVersion: input.expectedVersion + 1 });
          if (stored.length > 0) {
            const held = stored.map((event) => ({ type: event.type, data: event.data }) as OrderEvent);
            return { version: input.expectedVersion + stored.length, duplicate: true, published: false, stored: held };
          }
        }
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
      const version = result.nextExpectedVersion;
      const range = { orderId: input.orderId, fromVersion: input.expectedVersion + 1, toVersion: version };
      const toPublish = publishing !== undefined && version > input.expectedVersion ? publishing : undefined;
      if (input.publish === 'later') toPublish?.publishLater(range);
      const published = input.publish === true && toPublish !== undefined && (await toPublish.tryPublish(range));
      return { version, duplicate: result.duplicate, published };
    },
  };
}

export type OrderEventActivities = ReturnType<typeof createOrderEventActivities>;
