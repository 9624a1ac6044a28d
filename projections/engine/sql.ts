import type { Db } from './types';

/**
 * Set-based writes: a batch of rows goes to Postgres as one JSON parameter, unpacked by
 * jsonb_to_recordset (parsed once; nested jsonb columns are taken as they are) into one multi-row
 * upsert: one statement per table per batch (per 5,000 rows), with no bind-parameter limit to split by.
 */
export interface UpsertSpec {
  /** Every column with its Postgres type, in the order they are written. */
  columns: Readonly<Record<string, string>>;
  /** The conflict target (the primary key). */
  keys: readonly string[];
  /** The SET expression of a non-key column on conflict; the existing row is `t`. */
  update(column: string): string;
  /** Optional guard of the update, e.g. a version check. */
  where?: string;
}

const quote = (identifier: string): string => `"${identifier.replace(/"/g, '""')}"`;

/** The statement, with two bindings: the table (??) and the rows as a JSON array (?). */
export function upsertSql(spec: UpsertSpec): string {
  const names = Object.keys(spec.columns);
  const list = names.map(quote).join(', ');
  const definitions = names.map((name) => `${quote(name)} ${spec.columns[name]}`).join(', ');
  const updates = names
    .filter((name) => !spec.keys.includes(name))
    .map((name) => `${quote(name)} = ${spec.update(name)}`)
    .join(', ');
  return (
    `INSERT INTO ?? AS t (${list}) SELECT ${list} FROM jsonb_to_recordset(?::jsonb) AS r(${definitions}) ` +
    `ON CONFLICT (${spec.keys.map(quote).join(', ')}) DO UPDATE SET ${updates}` +
    (spec.where ? ` WHERE ${spec.where}` : '')
  );
}

const statements = new WeakMap<UpsertSpec, string>();

// Larger writes go in several statements, so no single parameter grows without bound.
const MAX_ROWS_PER_STATEMENT = 5000;

/** Upserts rows (already one per key, in lock order) into schema.table, one statement per 5,000 rows. */
export async function upsertRows(db: Db, table: string, spec: UpsertSpec, rows: readonly object[]): Promise<void> {
  let sql = statements.get(spec);
  if (sql === undefined) {
    sql = upsertSql(spec);
    statements.set(spec, sql);
  }
  for (let i = 0; i < rows.length; i += MAX_ROWS_PER_STATEMENT) {
    await db.raw(sql, [table, JSON.stringify(rows.slice(i, i + MAX_ROWS_PER_STATEMENT))]);
  }
}

export const excluded = (column: string): string => `excluded.${quote(column)}`;
export const added = (column: string): string => `t.${quote(column)} + excluded.${quote(column)}`;
export const greatest = (column: string): string => `GREATEST(t.${quote(column)}, excluded.${quote(column)})`;
