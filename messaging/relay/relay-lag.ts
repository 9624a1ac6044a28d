import type { Knex } from 'knex';
import { config } from '../../config';
import { loadCheckpoint } from '../../eventstore';
import type { Broker } from '../errors';
import { formatCheckpoint, relayCheckpointId } from './outbox-relay';
import { RelayLeaseStore, type LeaseRow } from './relay-lease';

export interface RelayLag {
  broker: Broker;
  checkpointId: string;
  checkpoint: { transactionId: string; globalPosition: string };
  /** The newest event every reader may see (committed, below every open transaction). */
  headPosition: string;
  /** Committed events after the checkpoint, i.e. not yet confirmed by the broker (capped at LAG_COUNT_CAP). */
  lagEvents: number;
  /** How long the oldest unpublished event has been waiting; 0 when caught up. */
  lagSeconds: number;
  /** The relay instance whose lease on the lane runs (none: no relay leads it now). */
  leader?: { instance: string; epoch: string; expiresInMs: number };
}

/** Counting stops here, so that a relay far behind costs a bounded query. */
export const LAG_COUNT_CAP = 1_000_000;

const BROKERS: readonly Broker[] = ['rabbitmq', 'kafka'];

/**
 * How far each relay lane is behind the log, read from the database alone (so it works from any
 * process: metrics, status commands, tests), whether or not the relay is running.
 */
export async function relayLag(db: Knex, prefix = config().RELAY_CHECKPOINT_PREFIX, brokers: readonly Broker[] = BROKERS): Promise<RelayLag[]> {
  const { rows: headRows } = await db.raw<{ rows: { head: string | null }[] }>(
    'SELECT max(global_position)::text AS head FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())',
  );
  const headPosition = headRows[0]?.head ?? '0';
  // A database not yet migrated to relay_leases (42P01) has lanes without leaders, not an error.
  const leases = await new RelayLeaseStore(db)
    .read(brokers.map((broker) => relayCheckpointId(prefix, broker)))
    .catch((err: unknown) => {
      if ((err as { code?: string }).code === '42P01') return [];
      throw err;
    });
  const lags: RelayLag[] = [];
  for (const broker of brokers) {
    const checkpointId = relayCheckpointId(prefix, broker);
    const checkpoint = await loadCheckpoint(db, checkpointId);
    const params = [checkpoint.transactionId.toString(), checkpoint.globalPosition.toString()];
    // The age is computed by the database, so the two clocks never disagree.
    const { rows } = await db.raw<{ rows: { events: string; oldest_age: number | null }[] }>(
      `SELECT (SELECT count(*) FROM (
                 SELECT 1 FROM events WHERE (transaction_id, global_position) > (?::xid8, ?::bigint)
                 ORDER BY transaction_id, global_position LIMIT ${LAG_COUNT_CAP}) AS pending)::text AS events,
              (SELECT extract(epoch FROM clock_timestamp() - recorded_at)::float8 FROM events
                 WHERE (transaction_id, global_position) > (?::xid8, ?::bigint)
                 ORDER BY transaction_id, global_position LIMIT 1) AS oldest_age`,
      [...params, ...params],
    );
    const row = rows[0];
    lags.push({
      broker,
      checkpointId,
      checkpoint: formatCheckpoint(checkpoint),
      headPosition,
      lagEvents: Number(row?.events ?? 0),
      lagSeconds: Math.max(0, row?.oldest_age ?? 0),
      ...leaderOf(leases.find((lease) => lease.lane === checkpointId)),
    });
  }
  return lags;
}

function leaderOf(lease: LeaseRow | undefined): Pick<RelayLag, 'leader'> {
  if (!lease || lease.expiresInMs <= 0) return {};
  return { leader: { instance: lease.holder, epoch: lease.epoch, expiresInMs: Math.round(lease.expiresInMs) } };
}
