import type { Knex } from 'knex';

/**
 * Drops the aggregate snapshots table (20261126000200): its only user, eventstore's AggregateRepository,
 * was used by nothing but its own test and is gone. `down` recreates the table empty.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS snapshots');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS snapshots (
      stream_id         text PRIMARY KEY,
      stream_version    bigint NOT NULL,
      snapshot_version  integer NOT NULL,
      state             jsonb NOT NULL,
      taken_at          timestamptz NOT NULL DEFAULT now()
    );
  `);
}
