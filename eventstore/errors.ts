import type { ExpectedVersion } from './types';

/** Base class of every error the event store raises on purpose. */
export class EventStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The stream's version was not what the append expected. */
export class ConcurrencyError extends EventStoreError {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`Concurrency conflict on stream "${streamId}": expected version ${String(expected)}, actual ${actual}`);
  }
}

/** Some event ids of the append are already stored, but not all of them, or with other content. */
export class IdempotencyConflictError extends EventStoreError {}

/** The append or read request itself is invalid (empty, unknown type, bad payload, too large...). */
export class InvalidEventError extends EventStoreError {}

export class UnknownEventTypeError extends InvalidEventError {
  constructor(readonly eventType: string) {
    super(`Unknown event type "${eventType}": register it in the event registry first`);
  }
}
