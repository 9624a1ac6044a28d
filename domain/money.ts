import { z } from 'zod';
import { CurrencyMismatchError, InvalidMoneyError } from './errors';

/**
 * An amount in a currency's minor unit (cents for USD), so that sums are exact integers and never suffer
 * from binary floating point.
 */
export interface Money {
  readonly amountMinor: number;
  /** ISO 4217 alphabetic code, e.g. "USD". */
  readonly currency: string;
}

const CURRENCY_PATTERN = /^[A-Z]{3}$/;

/** The wire shape of Money inside events. */
export const MoneySchema = z.object({
  amountMinor: z.number().int().nonnegative(),
  currency: z.string().regex(CURRENCY_PATTERN, 'must be an ISO 4217 code of 3 upper-case letters'),
});

// ISO 4217 currencies whose minor unit is not the usual 1/100; only formatting depends on this.
const ZERO_DECIMAL = new Set([
  ...['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG'],
  ...['RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'],
]);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && CURRENCY_PATTERN.test(value);
}

export function assertCurrencyCode(value: unknown): asserts value is string {
  if (!isCurrencyCode(value)) {
    throw new InvalidMoneyError(
      `currency must be an ISO 4217 code of 3 upper-case letters, such as "USD", not ${JSON.stringify(value)}`,
    );
  }
}

function assertAmount(amountMinor: unknown): asserts amountMinor is number {
  if (typeof amountMinor !== 'number' || !Number.isSafeInteger(amountMinor) || amountMinor < 0) {
    throw new InvalidMoneyError(
      'the amount must be a non-negative whole number of minor units (e.g. cents) ' +
        `up to ${Number.MAX_SAFE_INTEGER}, not ${String(amountMinor)}`,
    );
  }
}

/** Checks a value from outside (a command, a request) and returns it as Money. */
export function of(amountMinor: number, currency: string): Money {
  assertAmount(amountMinor);
  assertCurrencyCode(currency);
  return { amountMinor, currency };
}

/** Checks Money that arrived from outside, where the type is only a promise. */
export function assertMoney(value: Money): void {
  if (typeof value !== 'object' || value === null) throw new InvalidMoneyError('an amount and a currency are required');
  of(value.amountMinor, value.currency);
}

export function zero(currency: string): Money {
  return of(0, currency);
}

export function assertSameCurrency(expected: string, actual: Money): void {
  if (actual.currency !== expected) throw new CurrencyMismatchError(expected, actual.currency);
}

export function add(a: Money, b: Money): Money {
  assertSameCurrency(a.currency, b);
  return of(a.amountMinor + b.amountMinor, a.currency);
}

export function multiply(value: Money, factor: number): Money {
  if (!Number.isSafeInteger(factor) || factor < 0) {
    throw new InvalidMoneyError(`an amount can only be multiplied by a non-negative whole number, not ${factor}`);
  }
  return of(value.amountMinor * factor, value.currency);
}

export function equals(a: Money, b: Money): boolean {
  return a.currency === b.currency && a.amountMinor === b.amountMinor;
}

export function minorUnitDigits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

/** "1234.50 USD": locale-free, so that it reads the same in logs, errors and tests everywhere. */
export function format(value: Money): string {
  const digits = minorUnitDigits(value.currency);
  if (digits === 0) return `${value.amountMinor} ${value.currency}`;
  const divisor = 10 ** digits;
  const minor = value.amountMinor % divisor;
  const major = (value.amountMinor - minor) / divisor;
  return `${major}.${String(minor).padStart(digits, '0')} ${value.currency}`;
}
