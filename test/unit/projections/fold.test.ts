import { initialOrderState, orderStateFrom, toOrderEvent, type OrderEvent } from '../../../domain';
import { eventsByOrder, foldOrder, OutOfOrderError, planOrder } from '../../../projections/engine/fold';
import type { DeliveredEvent } from '../../../projections/engine/types';
import * as f from '../domain/fixtures';

const recordedAt = new Date('2025-03-01T12:00:00.000Z');
const delivered = (history: readonly OrderEvent[], orderId = f.ORDER_ID): DeliveredEvent[] =>
  history.map((event, i) => ({ streamId: `Order-${orderId}`, streamVersion: i + 1, type: event.type, data: event.data, recordedAt }));

describe('eventsByOrder', () => {
  it('groups Order events per order, sorted by version, without repeats, and skips other streams', () => {
    const a = delivered(f.submitted, 'a');
    const b = delivered(f.draft, 'b');
    const other = { streamId: 'Thing-1', streamVersion: 1, type: 'ThingHappened', data: {}, recordedAt };
    const { byOrder, ignored } = eventsByOrder([a[3]!, b[0]!, a[0]!, other, a[3]!, a[1]!, b[0]!]);
    expect(ignored).toBe(1);
    expect([...byOrder.keys()].sort()).toEqual(['a', 'b']);
    expect(byOrder.get('a')!.map((e) => e.streamVersion)).toEqual([1, 2, 4]);
    expect(byOrder.get('b')!.map((e) => e.streamVersion)).toEqual([1]);
  });
});

describe('planOrder', () => {
  const events = delivered(f.delivered);
  const versions = (...vs: number[]): DeliveredEvent[] => vs.map((v) => events[v - 1]!);

  it('applies what continues right after the last applied version', () => {
    expect(planOrder(0, versions(1, 2, 3))).toEqual({ kind: 'apply', events: versions(1, 2, 3), duplicates: 0 });
    expect(planOrder(2, versions(1, 2, 3, 4))).toEqual({ kind: 'apply', events: versions(3, 4), duplicates: 2 });
  });

  it('skips a delivery of applied events only', () => {
    expect(planOrder(5, versions(2, 5))).toEqual({ kind: 'skip', duplicates: 2 });
  });

  it('asks for the missing range when a delivery jumps ahead', () => {
    expect(planOrder(3, versions(5))).toEqual({ kind: 'fetch', fromVersion: 4, toVersion: 5, duplicates: 0 });
    expect(planOrder(3, versions(2, 4, 6, 7))).toEqual({ kind: 'fetch', fromVersion: 4, toVersion: 7, duplicates: 1 });
  });
});

describe('foldOrder', () => {
  it('ends where the domain does, reporting each step with the state before and after', () => {
    const steps: string[] = [];
    const applied = foldOrder(f.ORDER_ID, initialOrderState, delivered(f.delivered), toOrderEvent, (s) =>
      steps.push(`${s.before.status}->${s.after.status}`),
    );
    expect(applied.state).toEqual(orderStateFrom(f.delivered));
    expect(applied.recordedAt).toBe(recordedAt);
    expect(steps).toHaveLength(f.delivered.length);
    expect(steps.at(-1)).toBe('confirmed->delivered');
  });

  it('continues from a loaded state and refuses a hole', () => {
    const events = delivered(f.delivered);
    const state = orderStateFrom(f.submitted);
    const applied = foldOrder(f.ORDER_ID, state, events.slice(f.submitted.length), toOrderEvent, () => undefined);
    expect(applied.state).toEqual(orderStateFrom(f.delivered));
    expect(() => foldOrder(f.ORDER_ID, state, events.slice(f.submitted.length + 1), toOrderEvent, () => undefined)).toThrow(OutOfOrderError);
  });
});
