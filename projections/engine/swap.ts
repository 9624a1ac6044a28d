import type { Knex } from 'knex';
import { physicalName, type TableSet } from './tables';

type Trx = Knex.Transaction;

// An index's definition without its own name and its table's, so an index and its copy compare equal.
const shapeOf = (definition: string): string => definition.replace(/ INDEX \S+ ON \S+ /, ' INDEX ON ');

async function indexNamesByShape(trx: Trx, schema: string, table: string): Promise<Map<string, string>> {
  const { rows } = await trx.raw<{ rows: { name: string; definition: string }[] }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = to_regclass(?)`,
    [`${schema}.${table}`],
  );
  return new Map(rows.map((row) => [shapeOf(row.definition), row.name]));
}

/**
 * Puts rebuilt tables in place of the live ones, inside the caller's transaction (which holds the swap
 * lock): live → <table>__old_<stamp>, rebuilt → live name, old dropped. The rebuilt tables' indexes
 * (and so their constraints) get the live ones' names back, so that migrations can keep naming them.
 */
export async function swapTables(trx: Trx, rebuilt: TableSet, tables: readonly string[], stamp: string): Promise<void> {
  const { schema } = rebuilt;
  for (const table of tables) {
    const liveIndexes = await indexNamesByShape(trx, schema, table);
    const old = `${table}__old_${stamp}`;
    await trx.raw('ALTER TABLE ?? RENAME TO ??', [`${schema}.${table}`, old]);
    await trx.raw('ALTER TABLE ?? RENAME TO ??', [`${schema}.${physicalName(rebuilt, table)}`, table]);
    await trx.raw('DROP TABLE ??', [`${schema}.${old}`]);
    for (const [shape, name] of await indexNamesByShape(trx, schema, table)) {
      const liveName = liveIndexes.get(shape);
      if (liveName !== undefined && liveName !== name) await trx.raw('ALTER INDEX ?? RENAME TO ??', [`${schema}.${name}`, liveName]);
    }
  }
}
