import knex, { type Knex } from 'knex';
import { Client as PgClient, type ClientBase, type QueryResultRow } from 'pg';
import { config } from '../config';

export interface PostgresOptions {
  /** Pool size; defaults to DATABASE_POOL_MAX. */
  poolMax?: number;
  /** Shown in pg_stat_activity, to tell our processes apart. */
  applicationName?: string;
  /** Another database than DATABASE_URL's (same SSL and timeouts): benchmarks' and tests' own databases. */
  databaseUrl?: string;
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
      connectionString: options.databaseUrl ?? env.DATABASE_URL,
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

/** A statement prepared once per connection under its name. */
export interface PreparedStatement {
  name: string;
  /** With $1, $2... placeholders. */
  text: string;
}

/** The slice of knex's client that hands out raw pg connections. */
interface PooledClient {
  acquireConnection(): Promise<ClientBase>;
  releaseConnection(connection: ClientBase): Promise<void>;
}

/**
 * Runs a hot-path statement as a named prepared statement on a pooled connection: parsed and planned
 * once per connection, and past knex's query builder. Inside a knex transaction it runs in that
 * transaction instead.
 */
export async function queryPrepared<Row extends QueryResultRow>(
  db: Knex,
  statement: PreparedStatement,
  values: unknown[],
): Promise<Row[]> {
  if ((db as Knex & { isTransaction?: boolean }).isTransaction) {
    const result = await db.raw<{ rows: Row[] }>(statement.text.replace(/\$\d+/g, '?'), values as Knex.RawBinding[]);
    return result.rows;
  }
  const client = db.client as PooledClient;
  const connection = await client.acquireConnection();
  try {
    const result = await connection.query<Row>({ name: statement.name, text: statement.text, values });
    return result.rows;
  } finally {
    await client.releaseConnection(connection);
  }
}
