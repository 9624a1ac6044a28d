import { initialOrderState, orderStateFrom } from '../../../domain';
import { fromStoredState, isFinished, toStoredState } from '../../../projections/engine/stored-state';
import * as f from '../domain/fixtures';

describe('the order state the aggregate projections keep', () => {
  const histories = {
    delivered: f.delivered,
    'cancelled after payment, compensated': [...f.captured, f.cancelled(), f.refunded(), f.released()],
    'lost in delivery, compensated': [...f.confirmed, f.failed('delivery_timeout', 'delivery'), f.shipmentCancelled(), f.refunded(), f.released()],
    'abandoned draft': [...f.draft, f.cancelled('draft_expired')],
  };

  it.each(Object.entries(histories))('reads back as the same state after every event until the saga is done: %s', (_, history) => {
    for (let n = 0; n <= history.length; n++) {
      const state = orderStateFrom(history.slice(0, n));
      const stored = toStoredState(state);
      if (n === history.length) {
        expect(isFinished(state)).toBe(true);
        expect(stored).toBeNull();
      } else {
        expect(isFinished(state)).toBe(false);
        expect(fromStoredState(JSON.parse(JSON.stringify(stored)))).toEqual(state);
      }
    }
  });

  it('keeps a state while compensations are still due', () => {
    expect(toStoredState(orderStateFrom([...f.captured, f.cancelled()]))).not.toBeNull();
    expect(toStoredState(orderStateFrom([...f.confirmed, f.failed('delivery_timeout', 'delivery')]))).not.toBeNull();
  });

  it('keeps only what differs from a new order', () => {
    expect(toStoredState(initialOrderState)).toEqual({});
    expect(Object.keys(toStoredState(orderStateFrom(f.draft)) ?? {}).sort()).toEqual(['createdAt', 'currency', 'customerId', 'items', 'orderId', 'status', 'total', 'version']);
  });

  it('reads a state stored in full as it is', () => {
    const state = orderStateFrom(f.confirmed);
    expect(fromStoredState(JSON.parse(JSON.stringify(state)))).toEqual(state);
  });
});
