import { add, multiply, zero, type Money } from '../money';

/** One SKU in an order: every unit of it costs the same. */
export interface OrderLine {
  readonly sku: string;
  readonly quantity: number;
  readonly unitPrice: Money;
}

export type OrderLines = Readonly<Record<string, OrderLine>>;

// SKUs become object keys, and a key such as "constructor" must not find Object.prototype's member.
export function findLine(lines: OrderLines, sku: string): OrderLine | undefined {
  return Object.hasOwn(lines, sku) ? lines[sku] : undefined;
}

/** The lines ordered by SKU, so that lists built from them are the same on every replay. */
export function sortedLines(lines: OrderLines): OrderLine[] {
  return Object.values(lines).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}

export function lineTotal(line: OrderLine): Money {
  return multiply(line.unitPrice, line.quantity);
}

export function linesTotal(currency: string, lines: OrderLines): Money {
  return sortedLines(lines).reduce((total, line) => add(total, lineTotal(line)), zero(currency));
}
