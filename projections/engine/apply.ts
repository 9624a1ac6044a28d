import { initialOrderState, orderStateFrom, toOrderEvent, type OrderEvent, type OrderState } from '../../domain';
import type { PostgresEventStore, StoredEvent } from '../../eventstore';
import { foldOrder, planOrder } from './fold';
import type { TableSet } from './tables';
import type { AppliedOrder, Db, DeliveredEvent, OrderProgress, Projection, ProjectionBatch } from './types';

/** What one batch did. */
export interface ApplyStats {
  /** Orders that had at least one new event applied. */
  orders: number;
  /** Events applied (including those read from the store to fill gaps). */
  applied: number;
  /** Delivered events that were applied already. */
  duplicates: number;
  /** Events read from the store because a delivery skipped some: the whole missing range is read.
   * (Events read to rebuild the state of an order whose state was not kept are not counted.) */
  fetched: number;
}

export class MissingEventsError extends Error {
  constructor(streamId: string, fromVersion: number, toVersion: number, found: number) {
    super(`stream ${streamId}: expected versions ${fromVersion}..${toVersion} in the event store, found ${found}`);
    this.name = 'MissingEventsError';
  }
}

async function readRange(store: PostgresEventStore, streamId: string, fromVersion: number, toVersion: number): Promise<StoredEvent[]> {
  const wanted = toVersion - fromVersion + 1;
  const events = await store.readStream(streamId, { fromVersion, limit: wanted });
  if (events.length !== wanted) throw new MissingEventsError(streamId, fromVersion, toVersion, events.length);
  return events;
}

/** The state after `version` of a stream, from the store: for an order whose state was not kept. */
async function replay(store: PostgresEventStore, streamId: string, version: number, toEvent: (event: DeliveredEvent) => OrderEvent): Promise<OrderState> {
  return orderStateFrom((await readRange(store, streamId, 1, version)).map(toEvent));
}

export interface ProjectBatchInput {
  store: PostgresEventStore;
  projection: Projection;
  /** Each order's delivered events, sorted by version without repeats. */
  byOrder: ReadonlyMap<string, readonly DeliveredEvent[]>;
  /** How far each of these orders is applied (absent: nothing yet). */
  loadProgress(orderIds: readonly string[]): Promise<Map<string, OrderProgress>>;
  /** Collects the changes; the caller writes them. */
  batch: Pick<ProjectionBatch, 'step'>;
}

/**
 * The one way events reach a projection, for the live runner and the rebuild alike: per order, drop
 * what is applied already, read what a delivery skipped from the store (the store is the truth, a
 * delivery only a notification), and apply the rest in version order with the domain's evolve.
 * Returns each order after its last applied event; nothing is written.
 */
export async function projectBatch(input: ProjectBatchInput): Promise<{ stats: ApplyStats; orders: AppliedOrder[] }> {
  const { store, batch } = input;
  const orderIds = [...input.byOrder.keys()].sort();
  const progress = await input.loadProgress(orderIds);
  const orders: AppliedOrder[] = [];
  const stats: ApplyStats = { orders: 0, applied: 0, duplicates: 0, fetched: 0 };
  const toEvent = (event: DeliveredEvent): OrderEvent =>
    toOrderEvent(event.schemaVersion === undefined ? event : { type: event.type, data: store.registry.upcast(event.type, event.schemaVersion, event.data).data });

  for (const orderId of orderIds) {
    const delivered = input.byOrder.get(orderId) ?? [];
    const { version, state: kept } = progress.get(orderId) ?? { version: 0 };
    const plan = planOrder(version, delivered);
    stats.duplicates += plan.duplicates;
    if (plan.kind === 'skip') continue;
    const streamId = delivered[0]!.streamId;
    const state = kept ?? (version === 0 ? initialOrderState : await replay(store, streamId, version, toEvent));
    let events: readonly DeliveredEvent[];
    if (plan.kind === 'fetch') {
      events = await readRange(store, streamId, plan.fromVersion, plan.toVersion);
      stats.fetched += events.length;
    } else {
      events = plan.events;
    }
    orders.push(foldOrder(orderId, state, events, toEvent, (step) => batch.step(step)));
    stats.applied += events.length;
    stats.orders++;
  }
  return { stats, orders };
}

/** projectBatch, then the batch's rows and the orders' versions written in the given transaction. */
export async function applyBatch(
  input: Omit<ProjectBatchInput, 'batch'> & { db: Db; tables: TableSet },
): Promise<{ stats: ApplyStats; orders: AppliedOrder[] }> {
  const batch = input.projection.startBatch();
  const result = await projectBatch({ ...input, batch });
  await batch.write(input.db, input.tables, result.orders);
  return result;
}
