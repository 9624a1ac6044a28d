import type { Knex } from 'knex';
import type { EventEnvelope } from './envelope';
import type { Broker } from './errors';

export interface HandlerContext {
  /** The transaction that also records the event as processed: write the handler's effects with it. */
  trx: Knex.Transaction;
  /** 1 on the first delivery; counts the handler's failed attempts before this one plus one. */
  attempt: number;
  broker: Broker;
}

/**
 * A consumer's business logic for one event. It runs at most once with effect per event id: its
 * transaction commits together with the deduplication record (see idempotent-consumer.ts). Throwing
 * rolls both back and the message is retried, then parked in the DLQ.
 */
export type EventHandler = (envelope: EventEnvelope, context: HandlerContext) => Promise<void>;
