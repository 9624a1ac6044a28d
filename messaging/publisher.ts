import type { StoredEvent } from '../eventstore';
import type { Broker } from './errors';

/** Publishes stored events to one broker. Both brokers' publishers implement it, so the relay and the activity treat them alike. */
export interface EventPublisher {
  readonly broker: Broker;
  /**
   * Publishes the events in the given order and resolves only once the broker has durably taken
   * every one of them; rejects (with a MessagingError) otherwise, and the caller publishes the batch
   * again. Consumers deduplicate by event id, so a repeat costs nothing but bandwidth.
   */
  publish(events: readonly StoredEvent[]): Promise<void>;
  /**
   * How many batches the relay may have in flight at once. More than one is only safe when a failed
   * batch cannot be overtaken by a later one that succeeds: order per key matters on Kafka.
   */
  readonly maxInFlightBatches: number;
  close(): Promise<void>;
}
