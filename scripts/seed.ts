/**
 * Loads the demo catalog: products with stock and customers whose payments approve, decline, or
 * whose address cannot be shipped to. Migrates first, so it works on an empty database; safe to run
 * again (existing stock is kept unless --reset-stock is given).
 */
import { DEMO_CATALOG, seedCatalog, type UpsertCounts } from '../activities/catalog-seed';
import { format } from '../domain/money';
import { createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';

interface StockRow {
  sku: string;
  stock_available: number;
  stock_reserved: number;
  stock_sold: number;
}

const describe = (counts: UpsertCounts): string =>
  `${counts.inserted} inserted, ${counts.updated} updated, ${counts.unchanged} unchanged`;

async function main(): Promise<void> {
  const unknown = process.argv.slice(2).filter((arg) => arg !== '--reset-stock');
  if (unknown.length > 0) throw new Error(`unknown arguments: ${unknown.join(' ')} (only --reset-stock is accepted)`);
  const resetStock = process.argv.includes('--reset-stock');

  const db = createKnex({ poolMax: 2, applicationName: 'seed' });
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) console.log(`applied migrations: ${applied.join(', ')}`);
    const result = await seedCatalog(db, DEMO_CATALOG, { stock: resetStock ? 'reset' : 'keep' });

    const { rows } = await db.raw<{ rows: StockRow[] }>(
      `SELECT sku, stock_available, stock_reserved, stock_sold FROM products WHERE sku = ANY (?::text[])`,
      [DEMO_CATALOG.products.map((p) => p.sku)],
    );
    const stock = new Map(rows.map((row) => [row.sku, row]));
    console.log(`products (${describe(result.products)}):`);
    for (const product of DEMO_CATALOG.products) {
      const s = stock.get(product.sku);
      const levels = s ? `${s.stock_available} available, ${s.stock_reserved} reserved, ${s.stock_sold} sold` : 'missing';
      console.log(`  ${product.sku.padEnd(12)} ${product.name.padEnd(26)} ${format(product.unitPrice).padStart(12)}  ${levels}`);
    }
    console.log(`customers (${describe(result.customers)}):`);
    for (const customer of DEMO_CATALOG.customers) {
      const address = customer.shippingAddress;
      const shipsTo = address ? `${address.postalCode} ${address.city}, ${address.country}` : 'no address';
      const pays = customer.paymentMethod ? `${customer.paymentMethod.label} (${customer.paymentMethod.behaviour}s)` : 'no payment method';
      console.log(`  ${customer.customerId.padEnd(19)} ${customer.name.padEnd(13)} ${pays.padEnd(36)} ships to ${shipsTo}`);
    }
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error('seeding failed:', err);
  process.exit(1);
});
