import type { Knex } from 'knex';

/**
 * Read models built by projections/ from the Order events. They hold nothing the event store does not:
 * any of them can be dropped and rebuilt from the log (npm run projections:rebuild).
 *
 * Exactly-once per event: every projection records, per order, the last stream version it applied, in
 * the same transaction as its rows. order_view keeps it in its own row (last_version); the aggregate
 * projections keep it, with the order's state their deltas are computed from, in <name>_applied.
 *
 * No column holds a wall-clock time of the projector: every value is a function of the events, so a
 * rebuild produces exactly the rows the live projector did.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- One row per order: its state after the events up to last_version. updated_at is when the last
    -- of them was recorded.
    CREATE TABLE order_view (
      order_id             text PRIMARY KEY,
      customer_id          text,
      status               text NOT NULL,
      currency             text,
      items                jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(items) = 'array'),
      total_minor          bigint,
      reservation_id       text,
      payment_id           text,
      shipment_id          text,
      carrier              text,
      tracking_number      text,
      failure_reason       text,
      failed_step          text,
      cancellation_reason  text,
      compensated_steps    text[] NOT NULL DEFAULT '{}',
      created_at           timestamptz,
      submitted_at         timestamptz,
      confirmed_at         timestamptz,
      delivered_at         timestamptz,
      cancelled_at         timestamptz,
      failed_at            timestamptz,
      updated_at           timestamptz NOT NULL,
      last_version         bigint NOT NULL CHECK (last_version >= 1)
    );
    -- A customer's orders, newest first, paged with WHERE (created_at, order_id) < (?, ?).
    CREATE INDEX order_view_customer_recent ON order_view (customer_id, created_at DESC, order_id DESC);
    CREATE INDEX order_view_status ON order_view (status);

    -- Per customer: how many orders, and how many are in each status now.
    CREATE TABLE customer_orders (
      customer_id                text PRIMARY KEY,
      orders_total               bigint NOT NULL DEFAULT 0,
      orders_draft               bigint NOT NULL DEFAULT 0,
      orders_submitted           bigint NOT NULL DEFAULT 0,
      orders_inventory_reserved  bigint NOT NULL DEFAULT 0,
      orders_payment_captured    bigint NOT NULL DEFAULT 0,
      orders_shipment_created    bigint NOT NULL DEFAULT 0,
      orders_confirmed           bigint NOT NULL DEFAULT 0,
      orders_delivered           bigint NOT NULL DEFAULT 0,
      orders_compensating        bigint NOT NULL DEFAULT 0,
      orders_cancelled           bigint NOT NULL DEFAULT 0,
      orders_failed              bigint NOT NULL DEFAULT 0,
      last_order_at              timestamptz
    );

    -- Per UTC day and currency, each fact booked on the day it happened (see projections/read-models/daily-sales.ts).
    CREATE TABLE daily_sales (
      day               date NOT NULL,
      currency          text NOT NULL,
      orders_placed     bigint NOT NULL DEFAULT 0,
      orders_confirmed  bigint NOT NULL DEFAULT 0,
      orders_cancelled  bigint NOT NULL DEFAULT 0,
      revenue_minor     bigint NOT NULL DEFAULT 0,
      refunds_minor     bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (day, currency)
    );

    -- Per SKU and currency (minor units of different currencies cannot be added up).
    CREATE TABLE product_metrics (
      sku             text NOT NULL,
      currency        text NOT NULL,
      units_sold      bigint NOT NULL DEFAULT 0,
      revenue_minor   bigint NOT NULL DEFAULT 0,
      units_released  bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (sku, currency)
    );

    CREATE TABLE customer_orders_applied (
      order_id      text PRIMARY KEY,
      last_version  bigint NOT NULL CHECK (last_version >= 0),
      state         jsonb
    );
    CREATE TABLE daily_sales_applied (LIKE customer_orders_applied INCLUDING ALL);
    CREATE TABLE product_metrics_applied (LIKE customer_orders_applied INCLUDING ALL);

    -- Per projection, a place in the global log up to which every Order event is applied: where the
    -- lag is measured from (projections/engine/lag.ts advances it; a rebuild sets it when it swaps tables).
    CREATE TABLE projection_checkpoints (
      projection       text PRIMARY KEY,
      transaction_id   xid8 NOT NULL,
      global_position  bigint NOT NULL,
      updated_at       timestamptz NOT NULL DEFAULT now()
    );
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS projection_checkpoints;
    DROP TABLE IF EXISTS product_metrics_applied;
    DROP TABLE IF EXISTS daily_sales_applied;
    DROP TABLE IF EXISTS customer_orders_applied;
    DROP TABLE IF EXISTS product_metrics;
    DROP TABLE IF EXISTS daily_sales;
    DROP TABLE IF EXISTS customer_orders;
    DROP TABLE IF EXISTS order_view;
  `);
}
