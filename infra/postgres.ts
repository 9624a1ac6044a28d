import knex, { type Knex } from 'knex';
import { Client as PgClient } from 'pg';
import { config } from '../config';

export interface PostgresOptions {
  /** Pool size; defaults to DATABASE_POOL_MAX. */
  poolMax?: number;
  /** Shown in pg_stat_activity, to tell our processes apart. */
  applicationName?: string;
}

/**
 * The one way to open Postgres. Every connection caps idle-in-transaction time, because a forgotten
 * open transaction would hold back the gap-free global reader (see eventstore/).
 */
export function createKnex(options: PostgresOptions = {}): Knex {
  const env = config();
  return knex({
    client: 'pg',
    connection: {
      connectionString: env.DATABASE_URL,
      ssl: env.DATABASE_SSL ? { rejectUnauthorized: true } : undefined,
      application_name: options.applicationName ?? 'orders-on-temporal',
      idle_in_transaction_session_timeout: env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    pool: { min: 0, max: options.poolMax ?? env.DATABASE_POOL_MAX },
    acquireConnectionTimeout: 10_000,
  });
}

/** A dedicated connection outside the pool, for LISTEN (a pooled connection would lose its listeners). */
export function createPgClient(applicationName: string): PgClient {
  const env = config();
  return new PgClient({
    connectionString: env.DATABASE_URL,
    ssl: env.DATABASE_SSL ? { rejectUnauthorized: true } : undefined,
    application_name: applicationName,
  });
}
