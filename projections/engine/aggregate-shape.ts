/**
 * Aggregate read models change by deltas: each applied event yields rows of increments, which are summed
 * per key and added to the table. Adding is commutative, so the result does not depend on how events were
 * batched or in which order different orders were applied; only each event's being applied exactly once
 * matters, and the runner's per-order versions guarantee that.
 */
export type AggregateRow = Record<string, string | number | null>;

export interface AggregateShape<Row extends AggregateRow> {
  /** The table's (logical) name. */
  table: string;
  /** The primary key's columns. */
  keys: readonly (keyof Row & string)[];
  /** Columns that add up. */
  sums: readonly (keyof Row & string)[];
  /** Columns that keep the greatest value seen (ISO timestamps compare as text); nulls are ignored. */
  greatest: readonly (keyof Row & string)[];
  /** Postgres type of every column. */
  columns: Readonly<Record<keyof Row & string, string>>;
}

export function rowKey<Row extends AggregateRow>(shape: AggregateShape<Row>, row: Row): string {
  const [first, ...rest] = shape.keys;
  let key = String(row[first!]);
  for (const column of rest) key += `\u0000${String(row[column])}`;
  return key;
}

function greater(a: string | number | null | undefined, b: string | number | null | undefined): string | number | null {
  if (a === null || a === undefined) return b ?? null;
  if (b === null || b === undefined) return a;
  return a >= b ? a : b;
}

/**
 * Sums deltas per key as they come, keeping one row per key that any delta touched (even when they
 * cancel out, so that the set of rows never depends on batching).
 */
export class DeltaSums<Row extends AggregateRow> {
  private readonly merged = new Map<string, Record<string, string | number | null>>();

  constructor(private readonly shape: AggregateShape<Row>) {}

  add(delta: Row): void {
    const key = rowKey(this.shape, delta);
    const into = this.merged.get(key);
    if (!into) {
      this.merged.set(key, { ...delta });
      return;
    }
    for (const column of this.shape.sums) into[column] = Number(into[column] ?? 0) + Number(delta[column] ?? 0);
    for (const column of this.shape.greatest) into[column] = greater(into[column], delta[column]);
  }

  /** The summed rows, sorted by key: concurrent writers then lock rows in one order. */
  rows(): Row[] {
    return [...this.merged.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => row as Row);
  }
}

export function mergeDeltas<Row extends AggregateRow>(shape: AggregateShape<Row>, deltas: readonly Row[]): Row[] {
  const sums = new DeltaSums(shape);
  for (const delta of deltas) sums.add(delta);
  return sums.rows();
}
