import type { ClientBase } from 'pg';
import type { Db } from './types';

/*
 * Advisory locks, keyed by schema.projection. Every batch of the live runner holds the swap lock shared
 * for its transaction; a rebuild's swap takes it exclusively, so it waits for the batches in flight and
 * holds new ones back until the new tables are in place. A second, session-level lock lets one rebuild
 * of a projection run at a time.
 */
const SWAP_LOCK = 0x70726a31;
const REBUILD_LOCK = 0x70726a32;

const key = (schema: string, projection: string): string => `${schema}.${projection}`;

export async function holdSwapLockShared(db: Db, schema: string, projection: string): Promise<void> {
  await db.raw('SELECT pg_advisory_xact_lock_shared(?::int, hashtext(?))', [SWAP_LOCK, key(schema, projection)]);
}

export async function holdSwapLockExclusive(db: Db, schema: string, projection: string): Promise<void> {
  await db.raw('SELECT pg_advisory_xact_lock(?::int, hashtext(?))', [SWAP_LOCK, key(schema, projection)]);
}

/** Session-level: held on a dedicated connection for the whole rebuild. */
export async function tryRebuildLock(connection: ClientBase, schema: string, projection: string): Promise<boolean> {
  const { rows } = await connection.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked', [
    REBUILD_LOCK,
    key(schema, projection),
  ]);
  return rows[0]?.locked === true;
}

export async function releaseRebuildLock(connection: ClientBase, schema: string, projection: string): Promise<void> {
  await connection.query('SELECT pg_advisory_unlock($1::int, hashtext($2))', [REBUILD_LOCK, key(schema, projection)]);
}
