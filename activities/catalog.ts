import type { Knex } from 'knex';
import { of as moneyOf, type Money } from '../domain/money';
import { requireText } from './errors';

/*
 * The catalog: what a SKU is called and costs. A read of one row, so the order worker runs it as a
 * local activity beside the workflow (no task queue round trip); the inventory worker still serves it
 * for orders whose histories schedule it as a regular activity.
 */

export interface Product {
  sku: string;
  name: string;
  unitPrice: Money;
}

interface ProductRow {
  sku: string;
  name: string;
  unit_price_minor: string;
  currency: string;
}

export function createCatalogActivities(db: Knex) {
  /** The catalog entry for a SKU, or null when there is none. */
  async function getProduct(sku: string): Promise<Product | null> {
    requireText('sku', sku);
    const { rows } = await db.raw<{ rows: ProductRow[] }>(`SELECT sku, name, unit_price_minor, currency FROM products WHERE sku = ?`, [sku]);
    const row = rows[0];
    if (!row) return null;
    // bigint arrives as a string; moneyOf rejects anything beyond Number's exact integers.
    return { sku: row.sku, name: row.name, unitPrice: moneyOf(Number(row.unit_price_minor), row.currency) };
  }
  return { getProduct };
}

export type CatalogActivities = ReturnType<typeof createCatalogActivities>;
