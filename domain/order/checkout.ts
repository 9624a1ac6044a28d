import { InvalidArgumentError, UnknownSkuError } from '../errors';
import type { Money } from '../money';
import type { OrderCommand, OrderCommandData } from './commands';
import { decide } from './decide';
import type { OrderEvent } from './events';
import { evolve, type OrderState } from './state';
import { checkQuantity, checkSku } from './validate';

/**
 * Checkout in one step: what a checkout means for an order is a list of ordinary commands (create,
 * add each line, submit), decided one after the other. A checkout holds no rule of its own, so an
 * order checked out in one call obeys exactly the rules of one filled in call by call.
 */

export interface CheckoutLine {
  sku: string;
  quantity: number;
}

export interface CheckoutRequest {
  /** The order's creation, when the checkout is what creates it. */
  create?: OrderCommandData<'CreateOrder'>;
  lines: readonly CheckoutLine[];
  submit: boolean;
  now: string;
}

/**
 * The distinct SKUs of a checkout's lines, in first-seen order, once every line has the shape of a line
 * (the prices are looked up for these). Input from outside the API (the CLI) may be anything.
 */
export function checkoutSkus(lines: unknown): string[] {
  if (!Array.isArray(lines)) throw new InvalidArgumentError('lines', 'a list of { sku, quantity }');
  const skus = new Set<string>();
  for (const line of lines as unknown[]) {
    if (line === null || typeof line !== 'object') throw new InvalidArgumentError('lines', 'a list of { sku, quantity }');
    const { sku, quantity } = line as Partial<CheckoutLine>;
    checkSku(sku);
    checkQuantity(quantity as number);
    skus.add(sku as string);
  }
  return [...skus];
}

/** The commands a checkout stands for; a SKU without a price is one the catalog does not know. */
export function checkoutCommands(request: CheckoutRequest, priceOf: (sku: string) => Money | undefined): OrderCommand[] {
  const commands: OrderCommand[] = request.create ? [{ type: 'CreateOrder', data: request.create }] : [];
  for (const { sku, quantity } of request.lines) {
    const unitPrice = priceOf(sku);
    if (!unitPrice) throw new UnknownSkuError(sku);
    commands.push({ type: 'AddItem', data: { sku, quantity, unitPrice } });
  }
  if (request.submit) commands.push({ type: 'SubmitOrder', data: { now: request.now } });
  return commands;
}

/**
 * Decides commands in turn, each against the state the ones before it leave: all their events, or the
 * first rule violation (then none of them holds).
 */
export function decideAll(commands: readonly OrderCommand[], state: OrderState): { events: OrderEvent[]; state: OrderState } {
  const events: OrderEvent[] = [];
  let current = state;
  for (const command of commands) {
    const decided = decide(command, current);
    events.push(...decided);
    current = decided.reduce(evolve, current);
  }
  return { events, state: current };
}
