import type { Knex } from 'knex';

/**
 * Orders whose undo of a saga step could not be done (CompensationFailed): order_view lists the steps
 * that still hold something, and customer_orders counts the orders in the new compensation_failed status.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE order_view ADD COLUMN unsettled_steps text[] NOT NULL DEFAULT '{}';
    ALTER TABLE customer_orders ADD COLUMN orders_compensation_failed bigint NOT NULL DEFAULT 0;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE order_view DROP COLUMN unsettled_steps;
    ALTER TABLE customer_orders DROP COLUMN orders_compensation_failed;
  `);
}
