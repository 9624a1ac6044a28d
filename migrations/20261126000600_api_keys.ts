import type { Knex } from 'knex';

/**
 * API keys, stored only as SHA-256 hashes: a leaked table reveals no usable token. A customer key
 * sees only its customer's orders; an operator key sees everything.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE api_keys (
      key_id       text PRIMARY KEY,
      key_hash     bytea NOT NULL UNIQUE,
      role         text NOT NULL CHECK (role IN ('customer', 'operator')),
      customer_id  text,
      label        text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      revoked_at   timestamptz,
      CHECK ((role = 'customer') = (customer_id IS NOT NULL))
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS api_keys');
}
