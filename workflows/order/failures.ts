import { ApplicationFailure } from '@temporalio/workflow';
import { isDomainError } from '../../domain';

/**
 * Update handlers must fail with an ApplicationFailure for the caller to see the error (any other
 * error would fail the workflow task instead). A domain rule keeps its code as the failure type.
 */
export function asUpdateFailure(err: unknown): unknown {
  if (isDomainError(err)) {
    return ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [err.toJSON()] });
  }
  return err;
}

/** Runs a validator's rule check, rethrowing rule violations as failures the caller can read. */
export function validateWith(check: () => unknown): void {
  try {
    check();
  } catch (err) {
    throw asUpdateFailure(err);
  }
}
