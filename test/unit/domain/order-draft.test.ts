import type { OrderCommand } from '../../../domain';
import { given } from './given-when-then';
import {
  cancelled,
  captured,
  created,
  CUSTOMER_ID,
  delivered,
  draft,
  itemAdded,
  ORDER_ID,
  reserved,
  submitted,
  submittedEvent,
  T0,
  T1,
  usd,
} from './fixtures';

const create = (overrides: Partial<Extract<OrderCommand, { type: 'CreateOrder' }>['data']> = {}): OrderCommand => ({
  type: 'CreateOrder',
  data: { orderId: ORDER_ID, customerId: CUSTOMER_ID, currency: 'USD', now: T0, ...overrides },
});
const add = (sku: string, quantity: number, unitPrice = usd(1000)): OrderCommand => ({ type: 'AddItem', data: { sku, quantity, unitPrice } });
const remove = (sku: string): OrderCommand => ({ type: 'RemoveItem', data: { sku } });
const submit: OrderCommand = { type: 'SubmitOrder', data: { now: T1 } };

describe('creating an order', () => {
  it('creates a draft for a new order id', () => {
    given([]).when(create()).then([created]);
  });

  it('does nothing when the same creation is retried', () => {
    given([created]).when(create()).then([]);
    given(submitted).when(create({ now: T1 })).then([]);
  });

  it('refuses an existing order id with other details', () => {
    given([created]).when(create({ customerId: 'someone-else' })).thenThrows('ORDER_ALREADY_EXISTS', /order-1 already exists/);
    given([created]).when(create({ currency: 'EUR' })).thenThrows('ORDER_ALREADY_EXISTS');
  });

  it.each([
    ['orderId', { orderId: '' }],
    ['orderId', { orderId: 'has space' }],
    ['customerId', { customerId: '  ' }],
    ['currency', { currency: 'dollars' }],
    ['now', { now: 'yesterday' }],
    ['now', { now: '2025-03-01T10:00:00+02:00' }],
  ])('refuses an invalid %s', (field, overrides) => {
    given([]).when(create(overrides)).thenThrows('INVALID_ARGUMENT', new RegExp(`^Invalid ${field}: `));
  });
});

describe('adding items', () => {
  it('adds a line to a draft', () => {
    given([created]).when(add('SKU-A', 3)).then([itemAdded('SKU-A', 3)]);
  });

  it('adds the extra quantity when the SKU is already in the order', () => {
    const state = given([created, itemAdded('SKU-A', 2)]).state;
    expect(state.items['SKU-A']?.quantity).toBe(2);
    given([created, itemAdded('SKU-A', 2)]).when(add('SKU-A', 5)).then([itemAdded('SKU-A', 5)]);
  });

  it.each([0, -1, 1.5, 1001, Number.NaN])('refuses a quantity of %p', (quantity) => {
    given([created]).when(add('SKU-A', quantity)).thenThrows('INVALID_QUANTITY', /from 1 to 1000/);
  });

  it('accepts the largest allowed quantity', () => {
    given([created]).when(add('SKU-A', 1000)).then([itemAdded('SKU-A', 1000)]);
  });

  it('refuses to grow one SKU beyond the limit', () => {
    given([created, itemAdded('SKU-A', 600)]).when(add('SKU-A', 401)).thenThrows('INVALID_QUANTITY', /would reach a quantity of 1001/);
  });

  it("refuses a price in another currency than the order's", () => {
    given([created]).when(add('SKU-A', 1, { amountMinor: 100, currency: 'EUR' })).thenThrows('CURRENCY_MISMATCH', /USD.*EUR/);
  });

  it('refuses an invalid price', () => {
    given([created]).when(add('SKU-A', 1, usd(-5))).thenThrows('INVALID_MONEY');
    given([created]).when(add('SKU-A', 1, usd(0.5))).thenThrows('INVALID_MONEY');
  });

  it('accepts a free item', () => {
    given([created]).when(add('GIFT', 1, usd(0))).then([itemAdded('GIFT', 1, usd(0))]);
  });

  it('refuses to add a known SKU at another unit price, rather than silently repricing the line', () => {
    given([created, itemAdded('SKU-A', 1, usd(1000))]).when(add('SKU-A', 1, usd(900))).thenThrows('PRICE_MISMATCH', /10\.00 USD.*9\.00 USD/);
  });

  it.each(['', ' SKU', 'a/b', 'x'.repeat(65)])('refuses the SKU %p', (sku) => {
    given([created]).when(add(sku, 1)).thenThrows('INVALID_ARGUMENT', /^Invalid sku/);
  });

  it('treats SKUs that look like object members as ordinary SKUs', () => {
    given([created]).when(add('constructor', 1)).then([itemAdded('constructor', 1)]);
    given([created]).when(remove('toString')).thenThrows('ITEM_NOT_FOUND');
  });

  it('refuses a line whose total could not be represented exactly', () => {
    given([created]).when(add('SKU-A', 1000, usd(Number.MAX_SAFE_INTEGER))).thenThrows('INVALID_MONEY');
  });

  it('refuses items for an order that does not exist', () => {
    given([]).when(add('SKU-A', 1)).thenThrows('ORDER_NOT_FOUND');
  });

  it('refuses items once the order is submitted', () => {
    given(submitted).when(add('SKU-A', 1)).thenThrows('ORDER_NOT_DRAFT', /is submitted/);
  });

  it.each([
    ['inventory_reserved', reserved],
    ['payment_captured', captured],
    ['delivered', delivered],
    ['cancelled', [...draft, cancelled()]],
  ])('never changes items of a %s order', (status, history) => {
    given(history).when(add('SKU-A', 1)).thenThrows('ORDER_NOT_DRAFT', new RegExp(`is ${status}`));
    given(history).when(remove('SKU-A')).thenThrows('ORDER_NOT_DRAFT');
  });
});

describe('removing items', () => {
  it('removes a line from a draft', () => {
    given(draft).when(remove('SKU-A')).then([{ type: 'OrderItemRemoved', data: { orderId: ORDER_ID, sku: 'SKU-A' } }]);
  });

  it('refuses to remove a SKU the order does not have', () => {
    given(draft).when(remove('SKU-Z')).thenThrows('ITEM_NOT_FOUND', /no item with SKU "SKU-Z"/);
  });

  it('refuses to remove a SKU that was already removed', () => {
    const history = [...draft, { type: 'OrderItemRemoved' as const, data: { orderId: ORDER_ID, sku: 'SKU-A' } }];
    given(history).when(remove('SKU-A')).thenThrows('ITEM_NOT_FOUND');
  });

  it('refuses changes once the order is submitted', () => {
    given(submitted).when(remove('SKU-A')).thenThrows('ORDER_NOT_DRAFT');
  });

  it('refuses removals for an order that does not exist', () => {
    given([]).when(remove('SKU-A')).thenThrows('ORDER_NOT_FOUND');
  });
});

describe('submitting', () => {
  it('submits the lines, sorted by SKU, with their total', () => {
    given(draft).when(submit).then([submittedEvent]);
  });

  it('refuses an empty order', () => {
    given([created]).when(submit).thenThrows('ORDER_EMPTY', /add at least one item/);
  });

  it('refuses an order whose items were all removed', () => {
    const history = [created, itemAdded('SKU-A', 1), { type: 'OrderItemRemoved' as const, data: { orderId: ORDER_ID, sku: 'SKU-A' } }];
    given(history).when(submit).thenThrows('ORDER_EMPTY');
  });

  it('does nothing when the submit is retried', () => {
    given(submitted).when(submit).then([]);
  });

  it('refuses to submit an order that has moved past submission', () => {
    given([...submitted, { type: 'OrderCancelled', data: { orderId: ORDER_ID, reason: 'customer_request', cancelledAt: T1 } }])
      .when(submit)
      .thenThrows('ORDER_NOT_DRAFT', /is cancelled/);
  });

  it('refuses an order that does not exist', () => {
    given([]).when(submit).thenThrows('ORDER_NOT_FOUND');
  });

  it('refuses an invalid submission time', () => {
    given(draft).when({ type: 'SubmitOrder', data: { now: '' } }).thenThrows('INVALID_ARGUMENT', /^Invalid now/);
  });
});
