import { checkoutCommands, checkoutSkus, decideAll, isDomainError, orderStateFrom, type Money, type OrderCommand, type OrderEvent } from '../../../domain';
import { created, CUSTOMER_ID, draft, itemAdded, ORDER_ID, submitted, T0, T1, usd } from './fixtures';

const prices: Record<string, Money> = { 'SKU-A': usd(1000), 'SKU-B': usd(250) };
const priceOf = (sku: string): Money | undefined => prices[sku];
const creation = { orderId: ORDER_ID, customerId: CUSTOMER_ID, currency: 'USD', now: T0 };

/** given(history).whenCheckout(request): the checkout's commands decided against the history, in turn. */
function given(history: readonly OrderEvent[]) {
  const state = orderStateFrom(history);
  const decideCheckout = (request: Parameters<typeof checkoutCommands>[0]) => decideAll(checkoutCommands(request, priceOf), state);
  return {
    whenCheckout: (request: Parameters<typeof checkoutCommands>[0]) => ({
      then(expected: OrderEvent[]): void {
        const { events, state: after } = decideCheckout(request);
        expect(events).toEqual(expected);
        expect(after).toEqual(orderStateFrom([...history, ...events]));
      },
      thenThrows(code: string): void {
        let caught: unknown;
        try {
          decideCheckout(request);
        } catch (err) {
          caught = err;
        }
        expect(isDomainError(caught) ? caught.code : caught).toBe(code);
      },
    }),
  };
}

const submittedOf = (events: OrderEvent[]): OrderEvent => ({
  type: 'OrderSubmitted',
  data: {
    orderId: ORDER_ID,
    total: orderStateFrom(events).total ?? usd(0),
    items: [...Object.values(orderStateFrom(events).items)].sort((a, b) => (a.sku < b.sku ? -1 : 1)),
    submittedAt: T1,
  },
});

describe('checkout in one step', () => {
  it('creates, fills and submits a new order', () => {
    const filled = [created, itemAdded('SKU-A', 2), itemAdded('SKU-B', 1, usd(250))];
    given([])
      .whenCheckout({ create: creation, lines: [{ sku: 'SKU-A', quantity: 2 }, { sku: 'SKU-B', quantity: 1 }], submit: true, now: T1 })
      .then([...filled, submittedOf(filled)]);
  });

  it('leaves a filled draft when it does not submit', () => {
    given([]).whenCheckout({ create: creation, lines: [{ sku: 'SKU-A', quantity: 1 }], submit: false, now: T1 }).then([created, itemAdded('SKU-A', 1)]);
  });

  it('adds to an existing draft and submits it', () => {
    const filled = [...draft, itemAdded('SKU-B', 3, usd(250))];
    given(draft).whenCheckout({ lines: [{ sku: 'SKU-B', quantity: 3 }], submit: true, now: T1 }).then([itemAdded('SKU-B', 3, usd(250)), submittedOf(filled)]);
  });

  it('refuses a SKU the catalog does not know', () => {
    given([]).whenCheckout({ create: creation, lines: [{ sku: 'SKU-A', quantity: 1 }, { sku: 'NOPE', quantity: 1 }], submit: true, now: T1 }).thenThrows('UNKNOWN_SKU');
  });

  it('refuses lines of one SKU that add up to more than an order may hold', () => {
    const lines = [{ sku: 'SKU-A', quantity: 600 }, { sku: 'SKU-A', quantity: 600 }];
    given([]).whenCheckout({ create: creation, lines, submit: true, now: T1 }).thenThrows('INVALID_QUANTITY');
  });

  it('refuses prices in another currency than the order', () => {
    given([]).whenCheckout({ create: { ...creation, currency: 'EUR' }, lines: [{ sku: 'SKU-A', quantity: 1 }], submit: true, now: T1 }).thenThrows('CURRENCY_MISMATCH');
  });

  it('refuses to submit an empty order', () => {
    given([]).whenCheckout({ create: creation, lines: [], submit: true, now: T1 }).thenThrows('ORDER_EMPTY');
  });

  it('refuses an order that was already submitted', () => {
    given(submitted).whenCheckout({ lines: [{ sku: 'SKU-A', quantity: 1 }], submit: true, now: T1 }).thenThrows('ORDER_NOT_DRAFT');
  });
});

describe('the SKUs a checkout looks up', () => {
  it('names each SKU once, in the order of the lines', () => {
    expect(checkoutSkus([{ sku: 'SKU-B', quantity: 1 }, { sku: 'SKU-A', quantity: 2 }, { sku: 'SKU-B', quantity: 3 }])).toEqual(['SKU-B', 'SKU-A']);
  });

  it.each<[string, unknown, string]>([
    ['lines that are not a list', { sku: 'SKU-A' }, 'INVALID_ARGUMENT'],
    ['a line that is not an object', ['SKU-A'], 'INVALID_ARGUMENT'],
    ['a malformed SKU', [{ sku: ' bad', quantity: 1 }], 'INVALID_ARGUMENT'],
    ['a quantity out of range', [{ sku: 'SKU-A', quantity: 0 }], 'INVALID_QUANTITY'],
  ])('refuses %s before any look-up', (_, lines, code) => {
    let caught: unknown;
    try {
      checkoutSkus(lines);
    } catch (err) {
      caught = err;
    }
    expect(isDomainError(caught) ? caught.code : caught).toBe(code);
  });
});

describe('deciding commands in turn', () => {
  it('decides each command against the state the ones before it left', () => {
    const commands: OrderCommand[] = [
      { type: 'AddItem', data: { sku: 'SKU-C', quantity: 1, unitPrice: usd(5) } },
      { type: 'RemoveItem', data: { sku: 'SKU-C' } },
    ];
    const { events, state } = decideAll(commands, orderStateFrom(draft));
    expect(events.map((e) => e.type)).toEqual(['OrderItemAdded', 'OrderItemRemoved']);
    expect(state).toEqual(orderStateFrom([...draft, ...events]));
    expect(state.items).toEqual(orderStateFrom(draft).items);
  });

  it('decides nothing for no commands', () => {
    expect(decideAll([], orderStateFrom(draft))).toEqual({ events: [], state: orderStateFrom(draft) });
  });
});
