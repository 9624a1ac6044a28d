import type { Knex } from 'knex';
import { of as moneyOf, type Money } from '../domain/money';
import { PAYMENT_METHOD_BEHAVIOURS, type PaymentMethodBehaviour } from './payments';
import { ShippingAddressSchema, UNDELIVERABLE_POSTAL_CODE, type ShippingAddress } from './shipping';

/*
 * Products and customers for the services' tables: the demo catalog, and idempotent upserts that
 * tests use for their own data. An upsert that changes nothing writes nothing (updated_at stays).
 */

export interface ProductSeed {
  sku: string;
  name: string;
  unitPrice: Money;
  /** Units available when the product is first inserted. */
  stock: number;
}

export interface PaymentMethodSeed {
  paymentMethodId: string;
  label: string;
  behaviour: PaymentMethodBehaviour;
}

export interface CustomerSeed {
  customerId: string;
  name: string;
  email: string;
  shippingAddress: ShippingAddress | null;
  paymentMethod: PaymentMethodSeed | null;
}

export interface Catalog {
  products: readonly ProductSeed[];
  customers: readonly CustomerSeed[];
}

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

export interface UpsertProductsOptions {
  /**
   * 'keep' (the default) leaves the stock of existing products alone: it belongs to the inventory
   * service, and resetting it under live reservations would break available + reserved + sold.
   * 'reset' sets their available units back to the seed's (a restock, for demos).
   */
  stock?: 'keep' | 'reset';
}

/** Ids in DEMO_CATALOG that demos and end-to-end tests refer to. */
export const DEMO_IDS = {
  customers: { approves: 'cust-approves', declines: 'cust-declines', undeliverable: 'cust-undeliverable' },
  /** One unit in stock: the first order takes it, the next one fails with OutOfStock. */
  lastUnitSku: 'LAMP-LTD-1',
} as const;

const usd = (amountMinor: number): Money => moneyOf(amountMinor, 'USD');

export const DEMO_CATALOG: Catalog = {
  products: [
    { sku: 'KB-ERGO-01', name: 'Ergonomic keyboard', unitPrice: usd(8999), stock: 50 },
    { sku: 'MS-WL-02', name: 'Wireless mouse', unitPrice: usd(2999), stock: 100 },
    { sku: 'MON-27-4K', name: '27" 4K monitor', unitPrice: usd(34900), stock: 10 },
    { sku: 'CBL-USBC-1M', name: 'USB-C cable, 1 m', unitPrice: usd(999), stock: 500 },
    { sku: DEMO_IDS.lastUnitSku, name: 'Limited-edition desk lamp', unitPrice: usd(12900), stock: 1 },
  ],
  customers: [
    {
      customerId: DEMO_IDS.customers.approves,
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      shippingAddress: { line1: '350 Fifth Avenue', city: 'New York', postalCode: '10118', country: 'US' },
      paymentMethod: { paymentMethodId: 'pm-ada-visa', label: 'Visa ending 4242', behaviour: 'approve' },
    },
    {
      customerId: DEMO_IDS.customers.declines,
      name: 'Grace Hopper',
      email: 'grace@example.com',
      shippingAddress: { line1: '1 Navy Street', city: 'Arlington', postalCode: '22202', country: 'US' },
      paymentMethod: { paymentMethodId: 'pm-grace-mastercard', label: 'Mastercard ending 0002', behaviour: 'decline' },
    },
    {
      customerId: DEMO_IDS.customers.undeliverable,
      name: 'Alan Turing',
      email: 'alan@example.com',
      shippingAddress: { line1: 'Bletchley Park', city: 'Milton Keynes', postalCode: UNDELIVERABLE_POSTAL_CODE, country: 'GB' },
      paymentMethod: { paymentMethodId: 'pm-alan-amex', label: 'Amex ending 0005', behaviour: 'approve' },
    },
  ],
};

function assertUnique(what: string, ids: readonly string[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    // Postgres refuses an upsert that touches one row twice, with a less helpful message.
    if (seen.has(id)) throw new Error(`${what} ${id} appears twice in the seed`);
    seen.add(id);
  }
}

function checkProduct(product: ProductSeed): void {
  moneyOf(product.unitPrice.amountMinor, product.unitPrice.currency);
  if (!Number.isSafeInteger(product.stock) || product.stock < 0) {
    throw new Error(`the stock of SKU ${product.sku} must be a whole number >= 0, not ${product.stock}`);
  }
}

function checkCustomer(customer: CustomerSeed): void {
  // The undeliverable postal code is allowed: that is a shipping outcome, not a malformed address.
  if (customer.shippingAddress !== null) ShippingAddressSchema.parse(customer.shippingAddress);
  const behaviour = customer.paymentMethod?.behaviour;
  if (behaviour !== undefined && !PAYMENT_METHOD_BEHAVIOURS.includes(behaviour)) {
    throw new Error(`customer ${customer.customerId} has a payment method with unknown behaviour ${String(behaviour)}`);
  }
}

function counts(total: number, rows: { inserted: boolean }[]): UpsertCounts {
  const inserted = rows.filter((row) => row.inserted).length;
  return { inserted, updated: rows.length - inserted, unchanged: total - rows.length };
}

/** Inserts new products and updates the name and price of existing ones; see UpsertProductsOptions for stock. */
export async function upsertProducts(
  db: Knex,
  products: readonly ProductSeed[],
  options: UpsertProductsOptions = {},
): Promise<UpsertCounts> {
  if (products.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  assertUnique('SKU', products.map((p) => p.sku));
  products.forEach(checkProduct);
  const resetStock = options.stock === 'reset';
  const rows = products.map((p) => ({
    sku: p.sku,
    name: p.name,
    unit_price_minor: p.unitPrice.amountMinor,
    currency: p.unitPrice.currency,
    stock: p.stock,
  }));
  // xmax = 0 only on a freshly inserted row version: it tells inserts from updates.
  const { rows: written } = await db.raw<{ rows: { inserted: boolean }[] }>(
    `INSERT INTO products AS p (sku, name, unit_price_minor, currency, stock_available)
     SELECT s.sku, s.name, s.unit_price_minor, s.currency, s.stock
       FROM jsonb_to_recordset(?::jsonb) AS s(sku text, name text, unit_price_minor bigint, currency text, stock integer)
     ON CONFLICT (sku) DO UPDATE SET
       name = excluded.name,
       unit_price_minor = excluded.unit_price_minor,
       currency = excluded.currency,
       stock_available = CASE WHEN ?::boolean THEN excluded.stock_available ELSE p.stock_available END,
       updated_at = now()
     WHERE (p.name, p.unit_price_minor, p.currency) IS DISTINCT FROM (excluded.name, excluded.unit_price_minor, excluded.currency)
        OR (?::boolean AND p.stock_available <> excluded.stock_available)
     RETURNING (xmax = 0) AS inserted`,
    [JSON.stringify(rows), resetStock, resetStock],
  );
  return counts(products.length, written);
}

/** Inserts or updates customers and their payment methods, in one transaction. Counts are of customers. */
export async function upsertCustomers(db: Knex, customers: readonly CustomerSeed[]): Promise<UpsertCounts> {
  if (customers.length === 0) return { inserted: 0, updated: 0, unchanged: 0 };
  assertUnique('customer', customers.map((c) => c.customerId));
  const methods = customers.flatMap((c) => (c.paymentMethod ? [{ ...c.paymentMethod, customerId: c.customerId }] : []));
  assertUnique('payment method', methods.map((m) => m.paymentMethodId));
  customers.forEach(checkCustomer);

  const customerRows = customers.map((c) => ({
    customer_id: c.customerId,
    name: c.name,
    email: c.email,
    shipping_address: c.shippingAddress,
    payment_method_id: c.paymentMethod?.paymentMethodId ?? null,
  }));
  const methodRows = methods.map((m) => ({
    payment_method_id: m.paymentMethodId,
    customer_id: m.customerId,
    label: m.label,
    behaviour: m.behaviour,
  }));

  return db.transaction(async (trx) => {
    const { rows: written } = await trx.raw<{ rows: { inserted: boolean }[] }>(
      `INSERT INTO customers AS c (customer_id, name, email, shipping_address, payment_method_id)
       SELECT s.customer_id, s.name, s.email, s.shipping_address, s.payment_method_id
         FROM jsonb_to_recordset(?::jsonb)
           AS s(customer_id text, name text, email text, shipping_address jsonb, payment_method_id text)
       ON CONFLICT (customer_id) DO UPDATE SET
         name = excluded.name,
         email = excluded.email,
         shipping_address = excluded.shipping_address,
         payment_method_id = excluded.payment_method_id,
         updated_at = now()
       WHERE (c.name, c.email, c.shipping_address, c.payment_method_id)
             IS DISTINCT FROM (excluded.name, excluded.email, excluded.shipping_address, excluded.payment_method_id)
       RETURNING (xmax = 0) AS inserted`,
      [JSON.stringify(customerRows)],
    );
    if (methodRows.length > 0) {
      await trx.raw(
        `INSERT INTO payment_methods AS m (payment_method_id, customer_id, label, behaviour)
         SELECT s.payment_method_id, s.customer_id, s.label, s.behaviour
           FROM jsonb_to_recordset(?::jsonb) AS s(payment_method_id text, customer_id text, label text, behaviour text)
         ON CONFLICT (payment_method_id) DO UPDATE SET
           customer_id = excluded.customer_id,
           label = excluded.label,
           behaviour = excluded.behaviour,
           updated_at = now()
         WHERE (m.customer_id, m.label, m.behaviour) IS DISTINCT FROM (excluded.customer_id, excluded.label, excluded.behaviour)`,
        [JSON.stringify(methodRows)],
      );
    }
    return counts(customers.length, written);
  });
}

/** Upserts a whole catalog: products, then customers. */
export async function seedCatalog(
  db: Knex,
  catalog: Catalog = DEMO_CATALOG,
  options: UpsertProductsOptions = {},
): Promise<{ products: UpsertCounts; customers: UpsertCounts }> {
  const products = await upsertProducts(db, catalog.products, options);
  const customers = await upsertCustomers(db, catalog.customers);
  return { products, customers };
}
