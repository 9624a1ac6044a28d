import type { Knex } from 'knex';

/**
 * Subscribers own their checkpoints: a reader stores its place in the global log in the same
 * transaction as the work it did, so it resumes exactly where its committed work ends.
 * Snapshots let long streams be loaded from a recent state instead of from their first event.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE subscription_checkpoints (
      subscription_id  text PRIMARY KEY,
      transaction_id   xid8 NOT NULL,
      global_position  bigint NOT NULL,
      updated_at       timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE snapshots (
      stream_id         text PRIMARY KEY,
      stream_version    bigint NOT NULL,
      snapshot_version  integer NOT NULL,
      state             jsonb NOT NULL,
      taken_at          timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS snapshots; DROP TABLE IF EXISTS subscription_checkpoints');
}
