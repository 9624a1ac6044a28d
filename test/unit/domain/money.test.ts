import { CurrencyMismatchError, isDomainError, money } from '../../../domain';

describe('Money', () => {
  it('adds amounts of one currency exactly', () => {
    expect(money.add(money.of(10, 'USD'), money.of(20, 'USD'))).toEqual({ amountMinor: 30, currency: 'USD' });
  });

  it('refuses to add amounts of different currencies, naming both', () => {
    let caught: unknown;
    try {
      money.add(money.of(1, 'USD'), money.of(1, 'EUR'));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CurrencyMismatchError);
    expect(isDomainError(caught, 'CURRENCY_MISMATCH')).toBe(true);
    expect((caught as CurrencyMismatchError).message).toBe('Expected an amount in USD but got one in EUR.');
    expect((caught as CurrencyMismatchError).expected).toBe('USD');
  });

  it('multiplies by a whole number of units', () => {
    expect(money.multiply(money.of(250, 'EUR'), 3)).toEqual({ amountMinor: 750, currency: 'EUR' });
    expect(money.multiply(money.of(250, 'EUR'), 0)).toEqual(money.zero('EUR'));
  });

  it.each([-1, 1.5, Number.NaN])('refuses to multiply by %p', (factor) => {
    expect(() => money.multiply(money.of(1, 'USD'), factor)).toThrow(expect.objectContaining({ code: 'INVALID_MONEY' }));
  });

  it('zero is the identity of add', () => {
    const amount = money.of(1234, 'JPY');
    expect(money.add(money.zero('JPY'), amount)).toEqual(amount);
  });

  it.each([
    [-1, 'USD'],
    [1.5, 'USD'],
    [Number.MAX_SAFE_INTEGER + 1, 'USD'],
    [1, 'usd'],
    [1, 'US'],
    [1, 'USDX'],
  ])('rejects %p %p as money', (amountMinor, currency) => {
    expect(() => money.of(amountMinor, currency)).toThrow(expect.objectContaining({ code: 'INVALID_MONEY' }));
  });

  it('refuses sums that are no longer exact integers', () => {
    const huge = money.of(Number.MAX_SAFE_INTEGER, 'USD');
    expect(() => money.add(huge, money.of(1, 'USD'))).toThrow(expect.objectContaining({ code: 'INVALID_MONEY' }));
    expect(() => money.multiply(huge, 2)).toThrow(expect.objectContaining({ code: 'INVALID_MONEY' }));
  });

  it('compares by currency and amount', () => {
    expect(money.equals(money.of(5, 'USD'), money.of(5, 'USD'))).toBe(true);
    expect(money.equals(money.of(5, 'USD'), money.of(5, 'EUR'))).toBe(false);
    expect(money.equals(money.of(5, 'USD'), money.of(6, 'USD'))).toBe(false);
  });

  it.each([
    [123456, 'USD', '1234.56 USD'],
    [5, 'EUR', '0.05 EUR'],
    [0, 'GBP', '0.00 GBP'],
    [500, 'JPY', '500 JPY'],
    [1234, 'KWD', '1.234 KWD'],
    [Number.MAX_SAFE_INTEGER, 'USD', '90071992547409.91 USD'],
  ])('formats %p %s as %s', (amountMinor, currency, text) => {
    expect(money.format(money.of(amountMinor, currency))).toBe(text);
  });

  it('validates the wire shape with the same rules', () => {
    expect(money.MoneySchema.safeParse({ amountMinor: 100, currency: 'USD' }).success).toBe(true);
    expect(money.MoneySchema.safeParse({ amountMinor: -1, currency: 'USD' }).success).toBe(false);
    expect(money.MoneySchema.safeParse({ amountMinor: 0.5, currency: 'USD' }).success).toBe(false);
    expect(money.MoneySchema.safeParse({ amountMinor: 1, currency: 'usd' }).success).toBe(false);
  });
});
