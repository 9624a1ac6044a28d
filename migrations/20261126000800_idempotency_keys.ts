import type { Knex } from 'knex';

/**
 * Idempotency-Key records of the API: which request a key was first used for. A retry with the same
 * key and the same request goes on to Temporal (which dedupes it: the order id, or the update id,
 * derives from the key) and answers as the first did; the same key with another request answers 422.
 * `subject` is what the key is unique within: the customer for POST /orders (the order id derives
 * from customer and key), the order for its updates (Temporal dedupes update ids per workflow).
 * `fingerprint` is the SHA-256 of the method, the route and the canonical request.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE idempotency_keys (
      scope        text NOT NULL,
      subject      text NOT NULL,
      key          text NOT NULL,
      fingerprint  bytea NOT NULL,
      request      text NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (scope, subject, key)
    );
    CREATE INDEX idempotency_keys_created_at ON idempotency_keys USING brin (created_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS idempotency_keys');
}
