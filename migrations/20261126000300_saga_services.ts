import type { Knex } from 'knex';

/**
 * The tables of the services the order saga calls: inventory, customers and their payment methods,
 * payments, shipping and notifications. Each service owns its tables; none references another's, so
 * each could move to its own database.
 *
 * Every compensable step keys its row by the id the saga chose (reservation, payment, shipment id), so
 * the primary key makes each step idempotent. A compensation that arrives before its step leaves a
 * tombstone row (the columns describing the step stay NULL) so that a late step with that id is refused
 * instead of taking effect after it was undone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    -- available + reserved + sold is a product's stock on hand; reserve, release and commit only move
    -- units between the three, so their sum changes only when stock is received.
    CREATE TABLE products (
      sku               text PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
      name              text NOT NULL CHECK (name <> ''),
      unit_price_minor  bigint NOT NULL CHECK (unit_price_minor >= 0),
      currency          char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
      stock_available   integer NOT NULL CHECK (stock_available >= 0),
      stock_reserved    integer NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
      stock_sold        integer NOT NULL DEFAULT 0 CHECK (stock_sold >= 0),
      created_at        timestamptz NOT NULL DEFAULT now(),
      updated_at        timestamptz NOT NULL DEFAULT now()
    );

    -- A tombstone (released before it was reserved) has no order and no items.
    CREATE TABLE inventory_reservations (
      reservation_id  text PRIMARY KEY,
      order_id        text,
      status          text NOT NULL CHECK (status IN ('reserved', 'released', 'committed')),
      items           jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(items) = 'array'),
      release_reason  text,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT inventory_reservations_tombstone_is_released CHECK (order_id IS NOT NULL OR status = 'released')
    );
    CREATE INDEX inventory_reservations_order ON inventory_reservations (order_id);

    CREATE TABLE customers (
      customer_id        text PRIMARY KEY,
      name               text NOT NULL,
      email              text NOT NULL,
      shipping_address   jsonb,
      payment_method_id  text,
      created_at         timestamptz NOT NULL DEFAULT now(),
      updated_at         timestamptz NOT NULL DEFAULT now()
    );

    -- behaviour stands in for a card network's answer, so demos and tests can choose the outcome.
    CREATE TABLE payment_methods (
      payment_method_id  text PRIMARY KEY,
      customer_id        text NOT NULL REFERENCES customers (customer_id) ON DELETE CASCADE,
      label              text NOT NULL,
      behaviour          text NOT NULL CHECK (behaviour IN ('approve', 'decline')),
      created_at         timestamptz NOT NULL DEFAULT now(),
      updated_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX payment_methods_customer ON payment_methods (customer_id);

    -- payment_id is the idempotency key: the primary key allows one charge per id, ever. A tombstone
    -- (refunded before it was captured) is 'refunded' with no charge.
    CREATE TABLE payments (
      payment_id     text PRIMARY KEY,
      order_id       text,
      customer_id    text,
      amount_minor   bigint CHECK (amount_minor >= 0),
      currency       char(3),
      status         text NOT NULL CHECK (status IN ('captured', 'refunded')),
      captured_at    timestamptz,
      refunded_at    timestamptz,
      refund_reason  text,
      CONSTRAINT payments_charge_is_whole CHECK (
        num_nulls(order_id, customer_id, amount_minor, currency, captured_at) IN (0, 5)
      ),
      CONSTRAINT payments_tombstone_is_refunded CHECK (captured_at IS NOT NULL OR status = 'refunded'),
      CONSTRAINT payments_refund_is_whole CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
    );
    CREATE INDEX payments_order ON payments (order_id);

    -- A tombstone (cancelled before it was created) has no order, carrier, tracking number or address.
    CREATE TABLE shipments (
      shipment_id      text PRIMARY KEY,
      order_id         text,
      customer_id      text,
      carrier          text,
      tracking_number  text UNIQUE,
      address          jsonb,
      items            jsonb,
      status           text NOT NULL CHECK (status IN ('created', 'cancelled', 'delivered')),
      cancel_reason    text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      updated_at       timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT shipments_is_whole CHECK (
        num_nulls(order_id, customer_id, carrier, tracking_number, address, items) IN (0, 6)
      ),
      CONSTRAINT shipments_tombstone_is_cancelled CHECK (order_id IS NOT NULL OR status = 'cancelled')
    );
    CREATE INDEX shipments_order ON shipments (order_id);

    -- notification_id is the idempotency key: a retried send records (and would deliver) once.
    CREATE TABLE notifications (
      notification_id  text PRIMARY KEY,
      order_id         text NOT NULL,
      customer_id      text NOT NULL,
      kind             text NOT NULL,
      payload          jsonb NOT NULL,
      sent_at          timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX notifications_order ON notifications (order_id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS notifications;
    DROP TABLE IF EXISTS shipments;
    DROP TABLE IF EXISTS payments;
    DROP TABLE IF EXISTS payment_methods;
    DROP TABLE IF EXISTS customers;
    DROP TABLE IF EXISTS inventory_reservations;
    DROP TABLE IF EXISTS products;
  `);
}
