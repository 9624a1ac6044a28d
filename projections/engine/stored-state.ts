import { TERMINAL_STATUSES, initialOrderState, sagaProgress, type OrderState } from '../../domain';

/**
 * An order's state as the aggregate projections keep it (<projection>_applied.state), to compute the
 * changes of its next event. It is a cache of the event store: null once the saga is done with the order
 * (it has ended and has nothing left to undo, so nothing more happens to it), and rebuilt from the
 * order's stream if an event comes after all. Otherwise only the fields that differ from a new order's
 * are kept, as most are null or empty for most of an order's life; reading merges them back.
 */
export type StoredOrderState = Partial<OrderState>;

const INITIAL_JSON = new Map(Object.entries(initialOrderState).map(([key, value]) => [key, JSON.stringify(value)]));

export function isFinished(state: OrderState): boolean {
  return TERMINAL_STATUSES.includes(state.status) && sagaProgress(state).awaitingCompensation.length === 0;
}

export function toStoredState(state: OrderState): StoredOrderState | null {
  if (isFinished(state)) return null;
  return Object.fromEntries(Object.entries(state).filter(([key, value]) => JSON.stringify(value) !== INITIAL_JSON.get(key)));
}

export function fromStoredState(stored: StoredOrderState): OrderState {
  return { ...initialOrderState, ...stored };
}
