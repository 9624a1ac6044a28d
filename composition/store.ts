import type { Knex } from 'knex';
import { orderRegistry } from '../domain/order/events';
import { PostgresEventStore, type EventStoreOptions } from '../eventstore';

/**
 * The event store every process uses: Postgres, with the order's event types (other types pass through
 * as stored). Only a store that appends outside a transaction notifies subscribers; the default here is
 * the readers' (no NOTIFY), as the API, projectors, relay and scripts only read.
 */
export function createOrderEventStore(db: Knex, options: EventStoreOptions = { notifyAppends: false }): PostgresEventStore {
  return new PostgresEventStore(db, orderRegistry(), options);
}
