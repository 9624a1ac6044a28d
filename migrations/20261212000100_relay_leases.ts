import type { Knex } from 'knex';

/**
 * Relay leadership: one row per relay lane (its checkpoint id, `<prefix>:<broker>`). The holder leads
 * the lane until expires_at (the database's clock); every change of holder raises the epoch, and a
 * lane's checkpoint is saved only under the epoch that still holds the lease (messaging/relay-lease.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE relay_leases (
      lane text PRIMARY KEY,
      holder text NOT NULL,
      epoch bigint NOT NULL CHECK (epoch > 0),
      acquired_at timestamptz NOT NULL DEFAULT now(),
      renewed_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE relay_leases');
}
