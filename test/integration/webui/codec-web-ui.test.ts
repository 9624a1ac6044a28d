/**
 * The Web UI reads encrypted payloads only through our codec server: the dev server's UI is started
 * with --ui-codec-endpoint (stack/services/temporal.sh), so with the codec server up the browser shows
 * an order's decoded input, and with it down only ciphertext.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { config } from '../../../config';
import { createKnex, createLogger } from '../../../infra';
import { AesGcmPayloadCodec } from '../../../infra/codec/payload-codec';
import { buildCodecServer } from '../../../infra/codec/server';
import { createIsolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-environment';
import { launchChromium } from '../../support/chromium';
import { REPO_DIR, requireService } from '../../support/stack';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { makeCatalog, startOrder } from '../../support/saga-fixtures';

const ARTIFACTS = path.join(REPO_DIR, 'test-artifacts');

describe('the Temporal Web UI decodes payloads through the codec server (headless Chromium)', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let workers: RunningWorkers;
  let browser: Browser;
  const codec = new AesGcmPayloadCodec({ keys: [{ id: 'ui-test', key: randomBytes(32) }] });

  beforeAll(async () => {
    requireService('temporal');
    environment = await createIsolatedEnvironment('codecui');
    environment.enter();
    db = createKnex({ poolMax: 5, applicationName: 'codec-web-ui-test' });
    workers = await runWorkers(db, undefined, { codec });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await workers?.stop();
    await db?.destroy();
    await environment?.dispose();
  }, 60_000);

  async function openWorkflow(page: Page, workflowId: string): Promise<void> {
    await page.goto(`${config().TEMPORAL_UI_URL}/namespaces/${environment.namespace}/workflows/${workflowId}`);
    await page.getByText('Event History').first().waitFor({ timeout: 30_000 });
  }

  /** Waits until the page's DOM (the collapsed input panel included) holds `text`; false after the timeout. */
  async function pageHolds(page: Page, text: string, timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await page.content()).includes(text)) return true;
      await page.waitForTimeout(500);
    }
    return false;
  }

  it('shows the decoded input with the codec server up, and only ciphertext without it', async () => {
    const catalog = await makeCatalog(db, 3);
    const customerId = catalog.customers.good;
    const handle = await startOrder(workers.client, customerId);
    const ui = new URL(config().TEMPORAL_UI_URL).origin;
    const logger = createLogger('codec-server-ui-test');
    logger.level = 'warn';
    // The dev UI sends no credentials, so the development mode that trusts the UI's origin is used.
    const server: FastifyInstance = buildCodecServer({ codec, db, corsOrigins: [ui], trustUiOrigin: true, logger });
    await server.listen({ host: '127.0.0.1', port: config().CODEC_SERVER_PORT });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      await openWorkflow(page, handle.workflowId);
      expect(await pageHolds(page, customerId)).toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-decoded-input.png'), fullPage: true });
    } finally {
      await server.close();
    }

    await openWorkflow(page, handle.workflowId);
    // The UI shows the payload as stored (its metadata base64-encoded, as it renders raw payloads):
    // the encrypted encoding, and no customer id anywhere on the page.
    expect(await pageHolds(page, Buffer.from('binary/encrypted').toString('base64'))).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-encrypted-input.png'), fullPage: true });
    expect(await page.content()).not.toContain(customerId);
    await handle.terminate('web UI test done');
  }, 180_000);
});
