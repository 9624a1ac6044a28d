import type { Knex } from 'knex';
import type { StoredEvent } from '../../eventstore';
import type { OrderEvent, OrderState } from '../../domain';
import type { ProjectionName } from '../read-models/names';
import type { TableSet } from './tables';

/**
 * An event as a consumer hands it to the runner: what a broker message carries of a stored event (a
 * StoredEvent and messaging's EventEnvelope both are one). recordedAt may be the envelope's ISO string.
 * schemaVersion, when given, lets the runner upcast a payload published under an older schema.
 */
export type DeliveredEvent = Pick<StoredEvent, 'streamId' | 'streamVersion' | 'type' | 'data'> &
  Partial<Pick<StoredEvent, 'schemaVersion'>> & { recordedAt: Date | string };

/** One event applied to one order: the state before and after it, as the domain's evolve computes them. */
export interface ProjectionStep {
  orderId: string;
  before: OrderState;
  event: OrderEvent;
  after: OrderState;
  /** When the event store recorded the event: the time of facts whose payload carries none. */
  recordedAt: Date;
}

/**
 * How far a projection has applied an order: the stream version, and the state after it when the
 * projection keeps it (without it, the state is rebuilt from the order's stream when an event needs it).
 */
export interface OrderProgress {
  version: number;
  state?: OrderState;
}

/** An order after the last event a batch applied to it; state.version is that event's stream version. */
export interface AppliedOrder {
  orderId: string;
  state: OrderState;
  recordedAt: Date;
}

export type Db = Knex | Knex.Transaction;

/**
 * A projection as the runner and the rebuild drive it: where it keeps how far each order is applied, and
 * how it turns applied events into rows. The pure part (events to changes) lives in the projection's own
 * module; this adds the storage.
 */
export interface Projection {
  readonly name: ProjectionName;
  /** Its tables, by live name; a rebuild clones and swaps all of them together. */
  readonly tables: readonly string[];
  /** The table with one row per order holding last_version (the applied stream version). */
  readonly versionTable: string;
  /**
   * The progress of each order that has any. With lock, the orders' rows are claimed and locked until
   * the transaction ends, so concurrent batches of one order apply in turn.
   */
  load(db: Db, tables: TableSet, orderIds: readonly string[], options: { lock: boolean }): Promise<Map<string, OrderProgress>>;
  /** Collects one batch's changes; nothing is written until write. */
  startBatch(): ProjectionBatch;
}

export interface ProjectionBatch {
  step(step: ProjectionStep): void;
  /** Writes the batch's rows and the orders' new versions, with multi-row upserts. */
  write(db: Db, tables: TableSet, orders: readonly AppliedOrder[]): Promise<void>;
}
