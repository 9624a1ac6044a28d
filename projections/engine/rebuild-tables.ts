import type { Knex } from 'knex';
import type { Logger } from '../../infra/logger';
import { physicalName, qualified, type TableSet } from './tables';

/** The new tables of a rebuild: empty copies of the live ones (columns, defaults, constraints, indexes). */
export async function createRebuildTables(db: Knex, target: TableSet, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    await db.raw('CREATE TABLE ?? (LIKE ?? INCLUDING ALL)', [qualified(target, table), `${target.schema}.${table}`]);
  }
}

export async function dropRebuildTables(db: Knex, target: TableSet, tables: readonly string[]): Promise<void> {
  for (const table of tables) await db.raw('DROP TABLE IF EXISTS ??', [`${target.schema}.${physicalName(target, table)}`]);
}

/** Statistics for the planner before the new tables go live. */
export async function analyzeTables(db: Knex, target: TableSet, tables: readonly string[]): Promise<void> {
  for (const table of tables) await db.raw('ANALYZE ??', [qualified(target, table)]);
}

/** Drops the tables of earlier rebuilds of these tables that died before their swap; call it holding their rebuild locks. */
export async function dropUnfinishedRebuilds(db: Knex, schema: string, tables: readonly string[], logger: Logger): Promise<void> {
  const like = (table: string): string => `${table.replace(/_/g, '\\_')}\\_\\_rebuild\\_%`;
  const { rows } = await db.raw<{ rows: { tablename: string }[] }>(
    'SELECT tablename FROM pg_tables WHERE schemaname = ? AND tablename LIKE ANY (?::text[])',
    [schema, tables.map(like)],
  );
  for (const { tablename } of rows) {
    logger.warn({ table: `${schema}.${tablename}` }, 'dropping the tables of an unfinished rebuild');
    await db.raw('DROP TABLE IF EXISTS ??', [`${schema}.${tablename}`]);
  }
}
