import type { Knex } from 'knex';
import type { StoredEvent } from '../../eventstore';

/** What the relay learns about a page of the log: which events the fast path delivered, and the database's clock. */
export interface DeliveredAmong {
  delivered: ReadonlySet<bigint>;
  /** now() on the database, the clock events' recordedAt comes from (the relay's own may differ). */
  databaseNow: Date;
}

/**
 * The record of events the fast path got confirmed by every broker (migrations/…_fast_path_deliveries).
 * The publishing path records them; the relay skips them. Both sides treat it as an optimisation:
 * a failed record only means the relay publishes a duplicate.
 */
export class FastPathDeliveries {
  constructor(private readonly db: Knex) {}

  /** Records events every broker confirmed. */
  async record(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.db.raw(
      'INSERT INTO fast_path_deliveries (global_position) SELECT unnest(?::bigint[]) ON CONFLICT DO NOTHING',
      [events.map((e) => e.globalPosition.toString())],
    );
  }

  async among(positions: readonly bigint[]): Promise<DeliveredAmong> {
    const { rows } = await this.db.raw<{ rows: { delivered: string[] | null; now: Date }[] }>(
      `SELECT (SELECT array_agg(global_position::text) FROM fast_path_deliveries WHERE global_position = ANY (?::bigint[])) AS delivered,
              now() AS now`,
      [positions.map(String)],
    );
    const row = rows[0]!;
    return { delivered: new Set((row.delivered ?? []).map((p) => BigInt(p))), databaseNow: row.now };
  }

  /** Forgets deliveries older than `olderThanMs`; returns how many. */
  async prune(olderThanMs: number): Promise<number> {
    const result = await this.db.raw<{ rowCount: number }>(
      "DELETE FROM fast_path_deliveries WHERE delivered_at < now() - make_interval(secs => ?::double precision / 1000)",
      [olderThanMs],
    );
    return result.rowCount ?? 0;
  }
}
