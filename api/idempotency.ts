import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { queryPrepared, type PreparedStatement } from '../infra/postgres';
import { pruneBatch } from '../infra/retention';
import { HttpProblem } from './problem';

/**
 * Idempotency keys remember the request they were first used for (migrations/..._idempotency_keys).
 *
 * Why Postgres and not the Temporal side: the order id (POST /orders) and the update id (item, submit
 * routes) already make Temporal dedupe a retried request, but Temporal answers a repeated update id
 * with the first update's result whatever the new arguments were, and a second start with the
 * existing order; neither can tell "same request" from "other request". One row per key, written
 * with a single atomic statement before Temporal is called, holds for any number of API instances
 * and survives restarts; the first writer wins and every later use is compared with it.
 */

/** JSON with object keys sorted, so that equal requests have equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface IdempotentRequest {
  /** What the key is unique within, e.g. 'order' (per customer) or 'order-update' (per order). */
  scope: string;
  subject: string;
  key: string;
  method: string;
  /** The route's path template, e.g. /orders/:id/items. */
  route: string;
  /** The request as the API acts on it (parameters and body, defaults applied). */
  request: unknown;
}

export function fingerprint(request: Pick<IdempotentRequest, 'method' | 'route' | 'request'>): Buffer {
  return createHash('sha256').update(`${request.method.toUpperCase()} ${request.route}\n${canonicalJson(request.request)}`).digest();
}

// Insert, or keep the existing row: RETURNING then gives the first use's fingerprint either way, in one
// statement (a no-op update, so that a concurrent first use is waited for and then seen).
const CLAIM: PreparedStatement = {
  name: 'api_claim_idempotency_key',
  text: `INSERT INTO idempotency_keys (scope, subject, key, fingerprint, request)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (scope, subject, key) DO UPDATE SET scope = idempotency_keys.scope
         RETURNING fingerprint, request, (xmax = 0) AS inserted`,
};

export class IdempotencyKeys {
  constructor(private readonly db: Knex) {}

  /**
   * Records the key's first use, or checks a later use against it: 422 for a different request.
   * Resolves to true for the first use (the row was inserted, not found), false for a repeat.
   */
  async claim(request: IdempotentRequest): Promise<boolean> {
    const print = fingerprint(request);
    const label = `${request.method.toUpperCase()} ${request.route}`;
    const [row] = await queryPrepared<{ fingerprint: Buffer; request: string; inserted: boolean }>(this.db, CLAIM, [
      request.scope,
      request.subject,
      request.key,
      print,
      label,
    ]);
    if (row && !row.fingerprint.equals(print)) {
      throw new HttpProblem(
        422,
        `Idempotency-Key "${request.key}" was already used for a different request (${row.request}); use a new key for a new request.`,
        { code: 'IDEMPOTENCY_KEY_REUSED', idempotencyKey: request.key },
      );
    }
    return row?.inserted === true;
  }
}

/**
 * Forgets one batch of keys first used longer ago than olderThanMs (api/main.ts runs it periodically).
 * A retry after that still makes no second order or update (Temporal dedupes the id derived from the
 * key); only a reuse of the key for another request is no longer refused with 422.
 */
export async function pruneIdempotencyKeys(db: Knex, options: { olderThanMs: number; batchSize?: number }): Promise<number> {
  return pruneBatch(db, { table: 'idempotency_keys', timestampColumn: 'created_at', olderThanMs: options.olderThanMs, batchSize: options.batchSize });
}
