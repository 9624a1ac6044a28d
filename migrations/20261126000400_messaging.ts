import type { Knex } from 'knex';

/**
 * Consumers' deduplication: brokers deliver at least once, so a consumer records each event id it
 * handled in the same transaction as the handler's effects; a second delivery finds the row and
 * does nothing. Rows older than any possible redelivery can be pruned by processed_at.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processed_messages (
      consumer_name  text NOT NULL CHECK (consumer_name <> ''),
      event_id       uuid NOT NULL,
      processed_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (consumer_name, event_id)
    );
    CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS processed_messages');
}
