/**
 * Rule violations of the domain. The API turns them into HTTP 422 bodies, so `message` is written for the
 * person calling the API, and `code` is the stable key that clients and workflows branch on (messages
 * may be reworded, codes may not).
 */

export type DomainErrorCode =
  | 'ORDER_EMPTY'
  | 'ORDER_NOT_DRAFT'
  | 'ITEM_NOT_FOUND'
  | 'INVALID_QUANTITY'
  | 'INVALID_MONEY'
  | 'INVALID_ARGUMENT'
  | 'CURRENCY_MISMATCH'
  | 'PRICE_MISMATCH'
  | 'AMOUNT_MISMATCH'
  | 'UNKNOWN_SKU'
  | 'ORDER_ALREADY_EXISTS'
  | 'ORDER_NOT_FOUND'
  | 'INVALID_TRANSITION'
  | 'CANNOT_CANCEL';

export type DomainErrorDetails = Readonly<Record<string, string | number | boolean | null>>;

export interface DomainErrorBody {
  code: DomainErrorCode;
  message: string;
  details: DomainErrorDetails;
}

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: DomainErrorDetails = {},
  ) {
    super(message);
    // The class name survives serialisation (e.g. as a Temporal ApplicationFailure type), the prototype does not.
    this.name = new.target.name;
  }

  toJSON(): DomainErrorBody {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isDomainError(error: unknown, code?: DomainErrorCode): error is DomainError {
  return error instanceof DomainError && (code === undefined || error.code === code);
}

export class OrderEmptyError extends DomainError {
  constructor(orderId: string) {
    super('ORDER_EMPTY', `Order ${orderId} has no items; add at least one item before submitting it.`, { orderId });
  }
}

export class OrderNotDraftError extends DomainError {
  constructor(orderId: string, status: string) {
    super(
      'ORDER_NOT_DRAFT',
      `Order ${orderId} is ${status}; items can only be changed, and the order submitted, while it is a draft.`,
      { orderId, status },
    );
  }
}

export class ItemNotFoundError extends DomainError {
  constructor(orderId: string, sku: string) {
    super('ITEM_NOT_FOUND', `Order ${orderId} has no item with SKU "${sku}".`, { orderId, sku });
  }
}

export class InvalidQuantityError extends DomainError {
  static outOfRange(quantity: number, max: number): InvalidQuantityError {
    return new InvalidQuantityError(`Quantity ${quantity} is not allowed: it must be a whole number from 1 to ${max}.`, {
      quantity,
      max,
    });
  }

  static lineTooLarge(sku: string, lineQuantity: number, max: number): InvalidQuantityError {
    return new InvalidQuantityError(
      `SKU "${sku}" would reach a quantity of ${lineQuantity}; an order holds at most ${max} units of one SKU.`,
      { sku, quantity: lineQuantity, max },
    );
  }

  private constructor(message: string, details: DomainErrorDetails) {
    super('INVALID_QUANTITY', message, details);
  }
}

export class InvalidMoneyError extends DomainError {
  constructor(reason: string) {
    super('INVALID_MONEY', `Invalid amount of money: ${reason}.`);
  }
}

export class InvalidArgumentError extends DomainError {
  constructor(field: string, requirement: string) {
    super('INVALID_ARGUMENT', `Invalid ${field}: ${requirement}.`, { field });
  }
}

export class CurrencyMismatchError extends DomainError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super('CURRENCY_MISMATCH', `Expected an amount in ${expected} but got one in ${actual}.`, { expected, actual });
  }
}

export class PriceMismatchError extends DomainError {
  constructor(sku: string, existingPrice: string, newPrice: string) {
    super(
      'PRICE_MISMATCH',
      `SKU "${sku}" is already in the order at ${existingPrice} per unit, not ${newPrice}; ` +
        'remove the item and add it again to change its price.',
      { sku, existingPrice, newPrice },
    );
  }
}

export class AmountMismatchError extends DomainError {
  constructor(what: string, expected: string, actual: string) {
    super('AMOUNT_MISMATCH', `The ${what} must be ${expected}, the order's total, but was ${actual}.`, {
      expected,
      actual,
    });
  }
}

export class UnknownSkuError extends DomainError {
  constructor(sku: string) {
    super('UNKNOWN_SKU', `No product with SKU "${sku}" exists.`, { sku });
  }
}

export class OrderAlreadyExistsError extends DomainError {
  constructor(orderId: string) {
    super('ORDER_ALREADY_EXISTS', `An order with id ${orderId} already exists with other details.`, { orderId });
  }
}

export class OrderNotFoundError extends DomainError {
  constructor(orderId?: string) {
    super('ORDER_NOT_FOUND', orderId ? `Order ${orderId} does not exist.` : 'The order does not exist.', {
      orderId: orderId ?? null,
    });
  }
}

export class InvalidTransitionError extends DomainError {
  constructor(orderId: string, status: string, action: string, why = `order ${orderId} is ${status}`) {
    super('INVALID_TRANSITION', `Cannot ${action}: ${why}.`, { orderId, status, action });
  }
}

export class CannotCancelError extends DomainError {
  constructor(orderId: string, status: string, why: string) {
    super('CANNOT_CANCEL', `Order ${orderId} cannot be cancelled: ${why}.`, { orderId, status });
  }
}
