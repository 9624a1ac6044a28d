import type { Knex } from 'knex';

/**
 * Events the fast path (the order workflow's publishing, activities/publishing.ts) got confirmed by
 * every broker. The outbox relay skips them, so an event normally reaches each broker once instead
 * of twice. A row is only ever an optimisation: without it the relay publishes the event (a
 * duplicate at worst), so rows are pruned by age and a lost row loses nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE fast_path_deliveries (
      global_position  bigint PRIMARY KEY,
      delivered_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX fast_path_deliveries_delivered_at ON fast_path_deliveries USING brin (delivered_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS fast_path_deliveries');
}
