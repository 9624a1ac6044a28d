import type { z } from 'zod';
import { InvalidArgumentError, InvalidQuantityError } from '../errors';
import {
  MAX_REASON_LENGTH,
  MAX_REFERENCE_LENGTH,
  OrderIdSchema,
  ReasonSchema,
  ReferenceSchema,
  SkuSchema,
  TimestampSchema,
} from './fields';
import { FAILED_STEPS, type FailedStep } from './steps';

/*
 * Checks of command input. The event schemas would reject the same values on append, but with messages
 * meant for developers; these name the field and say what is expected, for the API's caller.
 */

/** At most this many units of one SKU per order: a guard against typos such as 10000 for 100. */
export const MAX_QUANTITY_PER_SKU = 1000;

function check(schema: z.ZodType, value: unknown, field: string, requirement: string): void {
  if (!schema.safeParse(value).success) throw new InvalidArgumentError(field, requirement);
}

export function checkOrderId(value: unknown): void {
  check(OrderIdSchema, value, 'orderId', "1 to 128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit");
}

export function checkSku(value: unknown): void {
  check(SkuSchema, value, 'sku', "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
}

const TRIMMED = 'not blank, without leading or trailing spaces, control characters or unpaired surrogates';

export function checkReference(field: string, value: unknown): void {
  check(ReferenceSchema, value, field, `1 to ${MAX_REFERENCE_LENGTH} characters, ${TRIMMED}`);
}

export function checkReason(value: unknown): void {
  check(ReasonSchema, value, 'reason', `1 to ${MAX_REASON_LENGTH} characters, ${TRIMMED}`);
}

export function checkTimestamp(field: string, value: unknown): void {
  check(TimestampSchema, value, field, 'a UTC ISO 8601 date-time such as 2025-01-31T12:00:00.000Z');
}

export function checkFailedStep(value: unknown): asserts value is FailedStep {
  if (!(FAILED_STEPS as readonly unknown[]).includes(value)) {
    throw new InvalidArgumentError('failedStep', `one of ${FAILED_STEPS.join(', ')}`);
  }
}

export function checkQuantity(value: number): void {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_QUANTITY_PER_SKU) {
    throw InvalidQuantityError.outOfRange(value, MAX_QUANTITY_PER_SKU);
  }
}
