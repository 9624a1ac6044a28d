import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { DEMO_CATALOG, DEMO_IDS, seedCatalog, upsertProducts, type Catalog } from '../../../activities/catalog-seed';
import { createInventoryActivities } from '../../../activities/inventory';
import { of as moneyOf } from '../../../domain/money';
import { openTestDatabase } from '../../support/postgres';
import { REPO_DIR } from '../../support/stack';

const run = promisify(execFile);

describe('catalog seed (real Postgres)', () => {
  let db: Knex;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(() => db?.destroy());

  /** A catalog of its own, shaped like the demo one. */
  function uniqueCatalog(): Catalog {
    const tag = randomUUID();
    return {
      products: [
        { sku: `T-${tag}-a`, name: 'Seeded A', unitPrice: moneyOf(500, 'USD'), stock: 3 },
        { sku: `T-${tag}-b`, name: 'Seeded B', unitPrice: moneyOf(700, 'USD'), stock: 1 },
      ],
      customers: [
        {
          customerId: `cust-${tag}-a`,
          name: 'Seeded Approver',
          email: 'a@example.test',
          shippingAddress: { line1: '1 Road', city: 'Town', postalCode: '1000', country: 'NL' },
          paymentMethod: { paymentMethodId: `pm-${tag}-a`, label: 'Card', behaviour: 'approve' },
        },
        { customerId: `cust-${tag}-b`, name: 'Seeded Nobody', email: 'b@example.test', shippingAddress: null, paymentMethod: null },
      ],
    };
  }

  async function snapshot(catalog: Catalog): Promise<unknown[]> {
    const skus = catalog.products.map((p) => p.sku);
    const customerIds = catalog.customers.map((c) => c.customerId);
    return Promise.all([
      db('products').whereIn('sku', skus).orderBy('sku').select('*'),
      db('customers').whereIn('customer_id', customerIds).orderBy('customer_id').select('*'),
      db('payment_methods').whereIn('customer_id', customerIds).orderBy('payment_method_id').select('*'),
    ]);
  }

  it('upserting the same catalog twice inserts once, then writes nothing', async () => {
    const catalog = uniqueCatalog();
    await expect(seedCatalog(db, catalog)).resolves.toEqual({
      products: { inserted: 2, updated: 0, unchanged: 0 },
      customers: { inserted: 2, updated: 0, unchanged: 0 },
    });
    const first = await snapshot(catalog);
    await expect(seedCatalog(db, catalog)).resolves.toEqual({
      products: { inserted: 0, updated: 0, unchanged: 2 },
      customers: { inserted: 0, updated: 0, unchanged: 2 },
    });
    // Equal to the row, updated_at included.
    expect(await snapshot(catalog)).toEqual(first);
  });

  it('updates what changed, keeps stock under live reservations, and restocks only when asked', async () => {
    const catalog = uniqueCatalog();
    await seedCatalog(db, catalog);
    const [a] = catalog.products;
    if (!a) throw new Error('catalog without products');
    await createInventoryActivities(db).reserveInventory({
      reservationId: `res-${randomUUID()}`,
      orderId: `ord-${randomUUID()}`,
      items: [{ sku: a.sku, quantity: 2 }],
    });

    const renamed = { ...a, name: 'Seeded A, renamed' };
    await expect(upsertProducts(db, [renamed])).resolves.toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await db('products').where({ sku: a.sku }).first()).toMatchObject({
      name: 'Seeded A, renamed',
      stock_available: 1,
      stock_reserved: 2,
    });

    await expect(upsertProducts(db, [renamed], { stock: 'reset' })).resolves.toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await db('products').where({ sku: a.sku }).first()).toMatchObject({ stock_available: 3, stock_reserved: 2 });
    await expect(upsertProducts(db, [renamed], { stock: 'reset' })).resolves.toEqual({ inserted: 0, updated: 0, unchanged: 1 });
  });

  it('refuses a catalog that names a SKU twice', async () => {
    const [a] = uniqueCatalog().products;
    if (!a) throw new Error('catalog without products');
    await expect(upsertProducts(db, [a, a])).rejects.toThrow(/twice/);
  });

  it('the demo catalog has a last-unit SKU and customers that approve, decline and cannot be shipped to', () => {
    expect(DEMO_CATALOG.products.find((p) => p.sku === DEMO_IDS.lastUnitSku)?.stock).toBe(1);
    const byId = new Map(DEMO_CATALOG.customers.map((c) => [c.customerId, c]));
    expect(byId.get(DEMO_IDS.customers.approves)?.paymentMethod?.behaviour).toBe('approve');
    expect(byId.get(DEMO_IDS.customers.declines)?.paymentMethod?.behaviour).toBe('decline');
    expect(byId.get(DEMO_IDS.customers.undeliverable)?.shippingAddress?.postalCode).toBe('UNDELIVERABLE');
  });

  it('scripts/seed.ts is idempotent: the second run changes nothing', async () => {
    const tsx = path.join(REPO_DIR, 'node_modules', '.bin', 'tsx');
    const seed = (): Promise<{ stdout: string }> => run(tsx, ['scripts/seed.ts'], { cwd: REPO_DIR, timeout: 60_000 });
    const first = await seed();
    expect(first.stdout).toContain(DEMO_IDS.lastUnitSku);
    const before = await snapshot(DEMO_CATALOG);
    const second = await seed();
    expect(second.stdout).toContain(`products (0 inserted, 0 updated, ${DEMO_CATALOG.products.length} unchanged)`);
    expect(second.stdout).toContain(`customers (0 inserted, 0 updated, ${DEMO_CATALOG.customers.length} unchanged)`);
    const after = await snapshot(DEMO_CATALOG);
    expect(after[1]).toEqual(before[1]);
    expect(after[2]).toEqual(before[2]);
    // Stock may move meanwhile (other tests may order demo products); what the seed writes may not.
    const catalogColumns = (rows: unknown): unknown =>
      (rows as { sku: string; name: string; unit_price_minor: string; currency: string }[]).map(
        ({ sku, name, unit_price_minor, currency }) => ({ sku, name, unit_price_minor, currency }),
      );
    expect(catalogColumns(after[0])).toEqual(catalogColumns(before[0]));
  });
});
