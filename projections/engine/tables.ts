/**
 * Where a projection's tables are: a schema (public for the live read models; another one for tests
 * and dry runs) and a suffix (empty for the live tables, __rebuild_<stamp> while a rebuild fills them).
 */
export interface TableSet {
  readonly schema: string;
  readonly suffix: string;
}

export const DEFAULT_SCHEMA = 'public';

// Schema and table names are spliced into DDL and lock keys, so only plain identifiers are accepted.
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(name: string): void {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain lower-case SQL identifier`);
}

export function liveTables(schema: string = DEFAULT_SCHEMA): TableSet {
  assertIdentifier(schema);
  return { schema, suffix: '' };
}

export function rebuildTables(schema: string, stamp: string): TableSet {
  assertIdentifier(schema);
  return { schema, suffix: `__rebuild_${stamp}` };
}

/** The table's name in this set, without the schema. */
export function physicalName(tables: TableSet, table: string): string {
  const name = `${table}${tables.suffix}`;
  assertIdentifier(name);
  return name;
}

/** schema.table for knex's ?? identifier bindings. */
export function qualified(tables: TableSet, table: string): string {
  return `${tables.schema}.${physicalName(tables, table)}`;
}

/** The per-schema table of lag watermarks (not part of any projection's swapped tables). */
export function checkpointsTable(schema: string): string {
  assertIdentifier(schema);
  return `${schema}.projection_checkpoints`;
}
