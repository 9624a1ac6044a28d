/**
 * npm run demo: places orders through the running API (npm start) that walk every path of the saga,
 * then prints their outcomes as the read models show them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { config } from '../config';
import { createKnex } from '../infra';
import { createApiKey } from '../api/api-keys';
import { DEMO_IDS, seedCatalog } from '../activities/catalog-seed';

const run = promisify(execFile);
const env = config();
const API = `http://${env.API_HOST}:${env.API_PORT}`;

async function call<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

interface OrderView {
  orderId: string;
  customerId: string;
  status: string;
  total: { amountMinor: number; currency: string } | null;
  failure: { reason: string; step: string | null } | null;
  cancellationReason: string | null;
}

async function waitForRead(token: string, orderId: string, done: (o: OrderView) => boolean): Promise<OrderView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await call<OrderView>(token, 'GET', `/orders/${orderId}`).catch(() => undefined);
    if (view && done(view)) return view;
    if (Date.now() > deadline) throw new Error(`order ${orderId} did not get there in 60 s (last: ${view?.status ?? 'not in the read model'})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const TERMINAL = new Set(['delivered', 'cancelled', 'failed']);

async function main(): Promise<void> {
  const db = createKnex({ poolMax: 2, applicationName: 'demo' });
  // Restock, so the demo's stock-dependent paths behave the same on every run.
  await seedCatalog(db, undefined, { stock: 'reset' });
  const token = async (customerId: string): Promise<string> =>
    (await createApiKey(db, { role: 'customer', customerId, label: 'demo' })).token;
  const operator = (await createApiKey(db, { role: 'operator', label: 'demo' })).token;
  const approves = await token(DEMO_IDS.customers.approves);
  const declines = await token(DEMO_IDS.customers.declines);
  const undeliverable = await token(DEMO_IDS.customers.undeliverable);
  await db.destroy();

  // Checkout in one call: the order is created with its lines (and submitted) by one request.
  const place = async (customer: string, items: [string, number][], submit = true): Promise<string> => {
    const lines = items.map(([sku, quantity]) => ({ sku, quantity }));
    const { orderId } = await call<{ orderId: string }>(customer, 'POST', '/orders', { lines, submit });
    return orderId;
  };

  const results: { path: string; token: string; orderId: string }[] = [];

  const delivered = await place(approves, [['KB-ERGO-01', 1], ['MS-WL-02', 2]]);
  await waitForRead(approves, delivered, (o) => o.status === 'confirmed');
  await call(operator, 'POST', `/orders/${delivered}/delivery`, {});
  results.push({ path: 'happy path, delivered by the carrier signal', token: approves, orderId: delivered });

  results.push({ path: 'out of stock', token: approves, orderId: await place(approves, [[DEMO_IDS.lastUnitSku, 2]]) });
  results.push({ path: 'card declined', token: declines, orderId: await place(declines, [['CBL-USBC-1M', 3]]) });
  results.push({ path: 'undeliverable address', token: undeliverable, orderId: await place(undeliverable, [['MON-27-4K', 1]]) });

  const cancelled = await place(approves, [['MS-WL-02', 1]], false);
  const temporal = (await run('bash', ['stack/services/temporal.sh', 'bin'])).stdout.trim();
  await run(temporal, ['workflow', 'signal', '--workflow-id', `order-${cancelled}`, '--name', 'cancelOrder',
    '--input', '{"reason":"cancelled with temporal workflow signal"}', '--address', env.TEMPORAL_ADDRESS, '--namespace', env.TEMPORAL_NAMESPACE]);
  results.push({ path: 'cancelled with the temporal CLI', token: approves, orderId: cancelled });

  const rows = [];
  for (const r of results) {
    const view = await waitForRead(r.token, r.orderId, (o) => TERMINAL.has(o.status));
    rows.push({
      path: r.path,
      order: view.orderId.slice(0, 8),
      customer: view.customerId,
      status: view.status,
      total: view.total ? `${(view.total.amountMinor / 100).toFixed(2)} ${view.total.currency}` : '-',
      why: view.failure ? `${view.failure.step}: ${view.failure.reason}` : (view.cancellationReason ?? ''),
    });
  }
  console.table(rows);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  console.error('Is the system running? Start it with: npm start');
  process.exit(1);
});
