import { evolve, orderIdFromStreamId, type OrderEvent, type OrderState } from '../../domain';
import type { AppliedOrder, DeliveredEvent, ProjectionStep } from './types';

/**
 * The runner's pure core: which delivered events of an order to apply, and applying them in order.
 * A delivery may repeat events, reorder them, or skip some; the order's last applied version decides.
 */

/** The Order events of a delivery, per order id, each order's sorted by version without repeats. */
export function eventsByOrder(events: readonly DeliveredEvent[]): { byOrder: Map<string, DeliveredEvent[]>; ignored: number } {
  const byOrder = new Map<string, DeliveredEvent[]>();
  let ignored = 0;
  for (const event of events) {
    const orderId = orderIdFromStreamId(event.streamId);
    if (orderId === undefined) {
      ignored++;
      continue;
    }
    const list = byOrder.get(orderId);
    if (list) list.push(event);
    else byOrder.set(orderId, [event]);
  }
  for (const [orderId, list] of byOrder) {
    list.sort((a, b) => a.streamVersion - b.streamVersion);
    byOrder.set(
      orderId,
      list.filter((event, i) => i === 0 || list[i - 1]!.streamVersion !== event.streamVersion),
    );
  }
  return { byOrder, ignored };
}

export type OrderPlan =
  /** Nothing new: every delivered event is applied already. */
  | { kind: 'skip'; duplicates: number }
  /** The delivered events continue right after the last applied one. */
  | { kind: 'apply'; events: DeliveredEvent[]; duplicates: number }
  /** Events between the last applied and the delivered ones are missing: read them from the store. */
  | { kind: 'fetch'; fromVersion: number; toVersion: number; duplicates: number };

/** Decides what to do with an order's delivered events (sorted, unique) given its last applied version. */
export function planOrder(lastVersion: number, delivered: readonly DeliveredEvent[]): OrderPlan {
  const fresh = delivered.filter((event) => event.streamVersion > lastVersion);
  const duplicates = delivered.length - fresh.length;
  if (fresh.length === 0) return { kind: 'skip', duplicates };
  const contiguous = fresh.every((event, i) => event.streamVersion === lastVersion + i + 1);
  if (contiguous) return { kind: 'apply', events: fresh, duplicates };
  return { kind: 'fetch', fromVersion: lastVersion + 1, toVersion: fresh[fresh.length - 1]!.streamVersion, duplicates };
}

export class OutOfOrderError extends Error {
  constructor(orderId: string, expected: number, got: number) {
    super(`order ${orderId}: expected to apply version ${expected}, got ${got}`);
    this.name = 'OutOfOrderError';
  }
}

/**
 * Applies contiguous events to an order's state with the domain's evolve, reporting each step.
 * Returns the order after the last one.
 */
export function foldOrder(
  orderId: string,
  state: OrderState,
  events: readonly DeliveredEvent[],
  toEvent: (event: DeliveredEvent) => OrderEvent,
  onStep: (step: ProjectionStep) => void,
): AppliedOrder {
  let current = state;
  let recordedAt: Date | undefined;
  for (const delivered of events) {
    if (delivered.streamVersion !== current.version + 1) throw new OutOfOrderError(orderId, current.version + 1, delivered.streamVersion);
    const event = toEvent(delivered);
    const after = evolve(current, event);
    recordedAt = typeof delivered.recordedAt === 'string' ? new Date(delivered.recordedAt) : delivered.recordedAt;
    onStep({ orderId, before: current, event, after, recordedAt });
    current = after;
  }
  if (recordedAt === undefined) throw new Error(`order ${orderId}: nothing to apply`);
  return { orderId, state: current, recordedAt };
}
