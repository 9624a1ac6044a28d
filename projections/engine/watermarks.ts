import { START_OF_LOG, type GlobalCheckpoint } from '../../eventstore';
import type { ProjectionName } from '../read-models/names';
import { checkpointsTable } from './tables';
import type { Db } from './types';

/**
 * A projection's watermark: a place in the global log up to which every Order event is applied to it.
 * It only serves measuring lag; exactly-once application rests on the per-order versions.
 */
export async function loadWatermark(db: Db, schema: string, projection: ProjectionName): Promise<GlobalCheckpoint> {
  const { rows } = await db.raw<{ rows: { transaction_id: string; global_position: string }[] }>(
    'SELECT transaction_id::text AS transaction_id, global_position FROM ?? WHERE projection = ?',
    [checkpointsTable(schema), projection],
  );
  const row = rows[0];
  return row ? { transactionId: BigInt(row.transaction_id), globalPosition: BigInt(row.global_position) } : START_OF_LOG;
}

/** Moves the watermark forward (never back: several processes may advance it). */
export async function advanceWatermark(db: Db, schema: string, projection: ProjectionName, to: GlobalCheckpoint): Promise<void> {
  await db.raw(
    `INSERT INTO ?? AS t (projection, transaction_id, global_position) VALUES (?, ?::xid8, ?)
     ON CONFLICT (projection) DO UPDATE
       SET transaction_id = excluded.transaction_id, global_position = excluded.global_position, updated_at = now()
     WHERE (t.transaction_id, t.global_position) < (excluded.transaction_id, excluded.global_position)`,
    [checkpointsTable(schema), projection, to.transactionId.toString(), to.globalPosition.toString()],
  );
}

/** Sets the watermark, e.g. to where a rebuild's new tables stand when they replace the old ones. */
export async function resetWatermark(db: Db, schema: string, projection: ProjectionName, to: GlobalCheckpoint): Promise<void> {
  await db.raw(
    `INSERT INTO ?? (projection, transaction_id, global_position) VALUES (?, ?::xid8, ?)
     ON CONFLICT (projection) DO UPDATE
       SET transaction_id = excluded.transaction_id, global_position = excluded.global_position, updated_at = now()`,
    [checkpointsTable(schema), projection, to.transactionId.toString(), to.globalPosition.toString()],
  );
}
