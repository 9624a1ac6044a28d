import type { Knex } from 'knex';
import { PROJECTION_NAMES } from '../read-models/names';
import { PROJECTIONS } from '../read-models/catalog';
import { DEFAULT_SCHEMA, assertIdentifier } from './tables';

/** Every table of the read models, the watermarks included. */
export const READ_MODEL_TABLES: readonly string[] = [...PROJECTION_NAMES.flatMap((name) => PROJECTIONS[name].tables), 'projection_checkpoints'];

/**
 * Creates empty copies of the read-model tables (columns, defaults, constraints, indexes) in another
 * schema, for tests, benchmarks and dry runs that must not touch the live read models. The copies follow
 * the migrated tables, so they never drift from them.
 */
export async function createReadModelSchema(db: Knex, schema: string): Promise<void> {
  assertIdentifier(schema);
  if (schema === DEFAULT_SCHEMA) throw new Error('the read models already live in the default schema');
  await db.raw(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  for (const table of READ_MODEL_TABLES) {
    await db.raw(`CREATE TABLE IF NOT EXISTS ${schema}.${table} (LIKE ${DEFAULT_SCHEMA}.${table} INCLUDING ALL)`);
  }
}

export async function dropReadModelSchema(db: Knex, schema: string): Promise<void> {
  assertIdentifier(schema);
  if (schema === DEFAULT_SCHEMA) throw new Error('refusing to drop the default schema');
  await db.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}
