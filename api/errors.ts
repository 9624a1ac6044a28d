import type { FastifyError } from 'fastify';
import { ApplicationFailure } from '@temporalio/common';
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { isDomainError, type DomainErrorCode } from '../domain';
import { HttpProblem, problem, type Problem } from './problem';

/** Domain codes that say "not in this state" rather than "this input breaks a rule". */
const STATE_CONFLICTS: ReadonlySet<string> = new Set<DomainErrorCode>([
  'ORDER_NOT_DRAFT',
  'INVALID_TRANSITION',
  'CANNOT_CANCEL',
  'ORDER_ALREADY_EXISTS',
]);

// PostgreSQL refusing text the request carried: a NUL byte (22021) or a character it cannot store (22P05).
const UNSTORABLE_TEXT = new Set(['22021', '22P05']);

const UNAVAILABLE_GRPC = new Set([4 /* DEADLINE_EXCEEDED */, 14 /* UNAVAILABLE */]);
const UNAVAILABLE_NET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006', '08001']);

export interface MappedError {
  problem: Problem;
  headers: Record<string, string>;
  /** True when the error is ours, not the client's: logged as an error. */
  unexpected: boolean;
}

const mapped = (p: Problem, headers: Record<string, string> = {}, unexpected = false): MappedError => ({ problem: p, headers, unexpected });

const dependencyDown = (what: string): MappedError =>
  mapped(problem(503, `${what} is unavailable right now; retry shortly.`), { 'retry-after': '5' });

function fromFastify(err: FastifyError): MappedError | undefined {
  if (err.validation) {
    const errors = err.validation.map((v) => ({ path: v.instancePath || v.params?.missingProperty || '', message: v.message }));
    return mapped(problem(400, `The request is invalid: ${err.message}`, { errors }));
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const headers: Record<string, string> = {};
    if (err.statusCode === 429) headers['retry-after'] = '60';
    return mapped(problem(err.statusCode, err.message), headers);
  }
  return undefined;
}

function fromTemporal(err: unknown): MappedError | undefined {
  if (err instanceof WorkflowNotFoundError) return mapped(problem(404, 'Order was not found.'));
  if (err instanceof WorkflowExecutionAlreadyStartedError) return mapped(problem(409, 'That order already exists.'));
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type) {
      const details = (cause.details?.[0] as { details?: unknown } | undefined)?.details;
      const status = STATE_CONFLICTS.has(cause.type) ? 409 : 422;
      return mapped(problem(status, cause.message, { code: cause.type, details: details ?? {} }));
    }
    return mapped(problem(409, 'The order did not accept the change.'));
  }
  // The update outlived the call's deadline (a slow worker or store): the same request can be retried.
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return dependencyDown('Temporal');
  if (err instanceof ServiceError) {
    const code = (err.cause as { code?: number } | undefined)?.code;
    if (code !== undefined && UNAVAILABLE_GRPC.has(code)) return dependencyDown('Temporal');
    if (code === 5 /* NOT_FOUND */) return mapped(problem(404, 'Order was not found.'));
    if (isWorkflowClosedError(err)) {
      return mapped(problem(409, 'The order is closed and takes no more changes.'));
    }
  }
  return undefined;
}

/** Temporal's answer to a command for a workflow that has ended (the server says so in words only). */
export function isWorkflowClosedError(err: unknown): boolean {
  return err instanceof Error && /already completed|workflow execution already/i.test(err.message);
}

/** Maps anything a route can throw to a problem; bad input never becomes a 500. */
export function mapError(err: unknown): MappedError {
  if (err instanceof HttpProblem) return mapped(problem(err.status, err.message, err.extensions), err.headers);
  if (isDomainError(err)) {
    return mapped(problem(STATE_CONFLICTS.has(err.code) ? 409 : 422, err.message, { code: err.code, details: err.details }));
  }
  const temporal = fromTemporal(err);
  if (temporal) return temporal;
  const fastify = fromFastify(err as FastifyError);
  if (fastify) return fastify;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_NET.has(code)) return dependencyDown('A dependency');
  if (typeof code === 'string' && UNSTORABLE_TEXT.has(code)) {
    return mapped(problem(400, 'The request holds text the database cannot take (such as a NUL character).'));
  }
  if (err instanceof Error && /Knex: Timeout acquiring a connection/.test(err.message)) return dependencyDown('The database');
  return mapped(problem(500, 'Something went wrong on our side.'), {}, true);
}
