import type { Knex } from 'knex';
import { ORDER_STREAM_TYPE, orderStreamId } from '../../domain';
import type { GlobalCheckpoint, PostgresEventStore } from '../../eventstore';
import { advanceWatermark, loadWatermark } from './watermarks';
import type { ProjectionName } from '../read-models/names';
import { PROJECTIONS } from '../read-models/catalog';
import { DEFAULT_SCHEMA, liveTables, qualified } from './tables';

export interface ProjectionLag {
  projection: ProjectionName;
  /** Every Order event up to here is applied. */
  position: GlobalCheckpoint;
  /** The event store's head (the newest position a gap-free reader can see). */
  head: bigint;
  /** Order events up to the head not applied yet. */
  events: number;
  /** How long the oldest of them has been waiting (0 when caught up). */
  seconds: number;
  /** False when the projection is further behind than the window, so `events` is an upper bound. */
  exact: boolean;
}

export interface ProjectionLagOptions {
  schema?: string;
  /** At most this many events past the position are checked one by one (default 50,000). */
  window?: number;
}

interface WalkRow {
  behind: string;
  oldest: Date | null;
  scanned: string;
  last_txid: string | null;
  last_position: string | null;
  advanced_txid: string | null;
  advanced_position: string | null;
  now: Date;
}

// Walks the Order events after the watermark, each joined to its order's applied version. The watermark
// moves up to the first event not applied (or not yet settled: an older transaction still in flight could
// commit events before it), so the next call starts there and the walk stays short.
const WALK_SQL = `
  WITH walk AS (
    SELECT e.transaction_id, e.global_position, e.recorded_at,
           e.stream_version <= coalesce(v.last_version, 0) AS applied,
           e.transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AS settled
      FROM events e
      LEFT JOIN ?? v ON v.order_id = substr(e.stream_id, ?)
     WHERE e.stream_type = ?
       AND (e.transaction_id, e.global_position) > (?::xid8, ?::bigint)
       AND e.global_position <= ?
     ORDER BY e.transaction_id, e.global_position
     LIMIT ?
  ),
  first_open AS (
    SELECT transaction_id, global_position FROM walk WHERE NOT (applied AND settled)
     ORDER BY transaction_id, global_position LIMIT 1
  ),
  advanced AS (
    SELECT w.transaction_id, w.global_position FROM walk w
     WHERE NOT EXISTS (SELECT 1 FROM first_open)
        OR (w.transaction_id, w.global_position) < (SELECT f.transaction_id, f.global_position FROM first_open f)
     ORDER BY w.transaction_id DESC, w.global_position DESC LIMIT 1
  ),
  last_seen AS (
    SELECT transaction_id, global_position FROM walk ORDER BY transaction_id DESC, global_position DESC LIMIT 1
  )
  SELECT (SELECT count(*) FROM walk WHERE NOT applied) AS behind,
         (SELECT min(recorded_at) FROM walk WHERE NOT applied) AS oldest,
         (SELECT count(*) FROM walk) AS scanned,
         (SELECT transaction_id::text FROM last_seen) AS last_txid,
         (SELECT global_position FROM last_seen) AS last_position,
         (SELECT transaction_id::text FROM advanced) AS advanced_txid,
         (SELECT global_position FROM advanced) AS advanced_position,
         clock_timestamp() AS now`;

const BEYOND_SQL = `
  SELECT count(*) AS n FROM events
   WHERE stream_type = ? AND (transaction_id, global_position) > (?::xid8, ?::bigint) AND global_position <= ?`;

/**
 * How far a projection is behind the event store, for metrics and the stack's status: the events not yet
 * applied and the age of the oldest. Exact per order (it compares each event with its order's applied
 * version), so it is right also when a broker delivers orders out of order. As a side effect it moves the
 * projection's watermark forward, which is safe from any number of processes.
 */
export async function projectionLag(
  db: Knex,
  store: PostgresEventStore,
  name: ProjectionName,
  options: ProjectionLagOptions = {},
): Promise<ProjectionLag> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const window = options.window ?? 50_000;
  const tables = liveTables(schema);
  const head = await store.headPosition();
  const from = await loadWatermark(db, schema, name);
  const prefixLength = orderStreamId('').length;
  const { rows } = await db.raw<{ rows: WalkRow[] }>(WALK_SQL, [
    qualified(tables, PROJECTIONS[name].versionTable),
    prefixLength + 1,
    ORDER_STREAM_TYPE,
    from.transactionId.toString(),
    from.globalPosition.toString(),
    head.toString(),
    window,
  ]);
  const walk = rows[0]!;
  let events = Number(walk.behind);
  const exact = Number(walk.scanned) < window;
  if (!exact && walk.last_txid !== null && walk.last_position !== null) {
    const beyond = await db.raw<{ rows: { n: string }[] }>(BEYOND_SQL, [
      ORDER_STREAM_TYPE,
      walk.last_txid,
      walk.last_position,
      head.toString(),
    ]);
    events += Number(beyond.rows[0]?.n ?? 0);
  }
  let position = from;
  if (walk.advanced_txid !== null && walk.advanced_position !== null) {
    position = { transactionId: BigInt(walk.advanced_txid), globalPosition: BigInt(walk.advanced_position) };
    await advanceWatermark(db, schema, name, position);
  }
  const seconds = walk.oldest === null ? 0 : Math.max(0, (walk.now.getTime() - walk.oldest.getTime()) / 1000);
  return { projection: name, position, head, events, seconds, exact };
}
