import { EventRegistry } from '../../../eventstore/registry';
import {
  decide,
  isDomainError,
  ORDER_EVENT_DEFINITIONS,
  orderStateFrom,
  type DomainErrorCode,
  type OrderCommand,
  type OrderEvent,
  type OrderState,
} from '../../../domain';

const registry = new EventRegistry(ORDER_EVENT_DEFINITIONS);

interface When {
  /** Asserts the decided events, and that the event store would accept each of them. */
  then(expected: OrderEvent[]): void;
  thenThrows(code: DomainErrorCode, message?: RegExp): void;
}

interface Given {
  when(command: OrderCommand): When;
  state: OrderState;
}

/** given(history).when(command).then(newEvents): the shape in which the order's rules are specified. */
export function given(history: readonly OrderEvent[]): Given {
  const state = orderStateFrom(history);
  return {
    state,
    when: (command) => ({
      then(expected) {
        const events = decide(command, state);
        expect(events).toEqual(expected);
        for (const event of events) expect(() => registry.validateForAppend(event.type, event.data)).not.toThrow();
        // A decision must leave a history that can still be replayed.
        expect(() => orderStateFrom([...history, ...events])).not.toThrow();
      },
      thenThrows(code, message) {
        let caught: unknown;
        try {
          decide(command, state);
        } catch (error) {
          caught = error;
        }
        if (!isDomainError(caught)) throw new Error(`Expected a DomainError ${code}, got ${String(caught)}`);
        expect(caught.code).toBe(code);
        if (message) expect(caught.message).toMatch(message);
      },
    }),
  };
}
