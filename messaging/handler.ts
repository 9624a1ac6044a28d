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

/** One delivery of a batch, with the attempt it is on (as in HandlerContext). */
export interface BatchDelivery {
  envelope: EventEnvelope;
  attempt: number;
}

/**
 * A consumer's business logic for a batch of deliveries, in arrival order, applied in one transaction
 * (the one that records all of them as processed). Only deliveries not processed before are passed, each
 * event once. Throwing rolls the whole batch back; the consumer then handles its deliveries one by one
 * with the EventHandler, so a failing event is retried and parked on its own.
 */
export type BatchEventHandler = (deliveries: readonly BatchDelivery[], context: { trx: Knex.Transaction; broker: Broker }) => Promise<void>;

/**
 * Optional hooks a consumer calls as deliveries finish, for metrics. They run after the outcome is
 * final (the transaction committed or rolled back) and must not throw.
 */
export interface ConsumerObserver {
  /** The handler's effects committed (processed), or the event was applied before and skipped (duplicate). */
  delivered?(outcome: 'processed' | 'duplicate'): void;
  /** The handler failed; parked when the message went to the DLQ instead of being retried. */
  failed?(err: unknown, parked: boolean): void;
}
