import { ApplicationFailure } from '@temporalio/common';
import { isDomainError } from '../domain/errors';
import { assertMoney, type Money } from '../domain/money';
import { BUSINESS_FAILURES, type BusinessFailureDetails, type BusinessFailureType } from '../workflows/order/business-failures';

/*
 * The business failures of the services the order saga calls. Each is thrown as a NON-retryable
 * ApplicationFailure whose `type` is one of these names: retrying cannot change the answer, so the saga
 * must compensate instead. Anything else an activity throws is infrastructure trouble that Temporal retries.
 *
 * The names and findBusinessFailure live with the workflow (workflows/order/business-failures.ts), which
 * must not import activity code; they are re-exported here for the activities and their tests.
 */

export {
  BUSINESS_FAILURES,
  BUSINESS_FAILURE_TYPES,
  findBusinessFailure,
  isBusinessFailureType,
  type BusinessFailure,
  type BusinessFailureDetails,
  type BusinessFailureKey,
  type BusinessFailureType,
  type OutOfStockDetails,
  type UnknownSkuDetails,
} from '../workflows/order/business-failures';

/** The one way activities report a business failure: non-retryable, typed, with one details object. */
export function businessFailure(
  type: BusinessFailureType,
  message: string,
  details: BusinessFailureDetails = {},
): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
}

/** Activity input that no retry can fix: the caller has a bug. */
export function invalidRequest(message: string): ApplicationFailure {
  return businessFailure(BUSINESS_FAILURES.invalidRequest, message);
}

/** An id or reason as activity input: a non-blank string. */
export function requireText(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalidRequest(`${field} must be a non-empty string`);
  return value;
}

/** An amount as activity input: valid Money, or an InvalidRequest naming what is wrong with it. */
export function requireMoney(value: Money): Money {
  try {
    assertMoney(value);
  } catch (error) {
    if (isDomainError(error)) throw invalidRequest(error.message);
    throw error;
  }
  return value;
}
