/** The shapes the event store speaks in. */

export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface EventMetadata {
  correlationId?: string;
  causationId?: string;
  actor?: string;
  traceparent?: string;
  [key: string]: unknown;
}

/** An event to append. The caller chooses the id (deterministically, so that retries are idempotent). */
export interface NewEvent<Type extends string = string, Data = unknown> {
  eventId: string;
  type: Type;
  data: Data;
  metadata?: EventMetadata;
}

/** An event as stored, already upcast to its type's current schema version. */
export interface StoredEvent<Type extends string = string, Data = unknown> {
  globalPosition: bigint;
  /** The writing transaction's id (xid8); with globalPosition it orders the global log. */
  transactionId: bigint;
  streamId: string;
  streamType: string;
  streamVersion: number;
  eventId: string;
  type: Type;
  schemaVersion: number;
  data: Data;
  metadata: EventMetadata;
  recordedAt: Date;
}

export interface AppendResult {
  /** The stream's version after the append: pass it as expectedVersion next time. */
  nextExpectedVersion: number;
  firstPosition: bigint;
  lastPosition: bigint;
  /** True when every event was already stored: a retried append wrote nothing. */
  duplicate: boolean;
}

/**
 * A place in the global log. Readers resume after it. Ordering is (transactionId, globalPosition),
 * never globalPosition alone.
 */
export interface GlobalCheckpoint {
  transactionId: bigint;
  globalPosition: bigint;
}

export const START_OF_LOG: GlobalCheckpoint = { transactionId: 0n, globalPosition: 0n };
