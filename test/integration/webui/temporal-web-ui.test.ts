import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import type { Browser } from 'playwright-core';
import { config } from '../../../config';
import { openTestDatabase } from '../../support/postgres';
import { launchChromium } from '../../support/chromium';
import { REPO_DIR, requireService } from '../../support/stack';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { makeCatalog, startOrder, waitForStatus } from '../../support/saga-fixtures';
import { addItemUpdate, orderDeliveredSignal, submitOrderUpdate } from '../../../workflows/order/contract';

const ARTIFACTS = path.join(REPO_DIR, 'test-artifacts');

describe('the Temporal Web UI shows our orders (headless Chromium)', () => {
  let db: Knex;
  let workers: RunningWorkers;
  let browser: Browser;

  beforeAll(async () => {
    requireService('temporal');
    db = await openTestDatabase();
    workers = await runWorkers(db);
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await workers?.stop();
    await db?.destroy();
  });

  it('finds an order by OrderStatus and CustomerId, opens it, shows its activities and its state query', async () => {
    const catalog = await makeCatalog(db, 5);
    const handle = await startOrder(workers.client, catalog.customers.good);
    await handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.widget, quantity: 1 }] });
    await handle.executeUpdate(submitOrderUpdate);
    await waitForStatus(handle, ['confirmed']);
    await handle.signal(orderDeliveredSignal, {});
    await handle.result();

    const ui = config().TEMPORAL_UI_URL;
    const namespace = config().TEMPORAL_NAMESPACE;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const query = encodeURIComponent(`OrderStatus="delivered" AND CustomerId="${catalog.customers.good}"`);
    const link = page.locator(`a[href*="/workflows/${handle.workflowId}/"]`).first();
    // Visibility is eventually consistent: reload the filtered list until the order is listed.
    for (let attempt = 0; attempt < 20; attempt++) {
      await page.goto(`${ui}/namespaces/${namespace}/workflows?query=${query}`);
      if (await link.isVisible({ timeout: 3000 }).catch(() => false)) break;
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-order-list.png') });
    await link.click();

    await page.getByText('Event History').first().waitFor({ timeout: 20_000 });
    for (const activity of ['reserveInventory', 'capturePayment', 'createShipment', 'sendOrderConfirmation']) {
      await page.getByText(activity, { exact: true }).first().waitFor({ timeout: 20_000 });
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-order-history.png'), fullPage: true });

    await page.getByText('Queries', { exact: true }).first().click();
    await page.getByRole('button', { name: 'Run Query' }).click();
    await page.getByText('"status": "delivered"').waitFor({ timeout: 20_000 });
    await page.getByText(`"customerId": "${catalog.customers.good}"`).waitFor({ timeout: 5_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-order-query.png') });
  }, 180_000);
});
