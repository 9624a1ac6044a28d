import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Knex } from 'knex';
import { createKnex } from '../../../infra';
import { SYSTEM_PROCESSES, replicate } from '../../../workers/supervisor';
import { RelayLeaseStore } from '../../../messaging/relay/relay-lease';
import { relayCheckpointId } from '../../../messaging/relay/outbox-relay';
import { placeOrder } from '../chaos/order-load';
import { ResilientApiClient } from '../chaos/resilient-client';
import { customerToken, operatorToken } from '../../support/api';
import { createIsolatedEnvironment, freePort, type IsolatedEnvironment } from '../../support/isolated-environment';
import { makeCatalog } from '../../support/saga-fixtures';
import { REPO_DIR, requireService } from '../../support/stack';

/*
 * `REPLICAS=2` through scripts/start.ts itself (what `npm start` runs once the stack is up and seeded),
 * in an environment of its own: two instances of every process and the codec server come up, an order
 * goes through the API instances, and SIGTERM stops everything gracefully: each process finishes its
 * own stop (and the leading relay gives its leases up) within the supervisor's grace period, so
 * nothing had to be SIGKILLed.
 */

const SUPERVISOR_GRACE_MS = 15_000;
const LANES = [relayCheckpointId('relay', 'rabbitmq'), relayCheckpointId('relay', 'kafka')];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Two consecutive free ports: replica n of the API listens on API_PORT + n - 1. */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await portIsFree(port + 1))) return port;
  }
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, context: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch((err: unknown) => err as T);
    if (!(value instanceof Error) && done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\n${context()}`);
    await sleep(250);
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('REPLICAS=2 start (scripts/start.ts, real processes and servers)', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let stateDir: string;
  let start: ChildProcess | undefined;
  const lines: string[] = [];
  const tail = (): string => lines.slice(-40).join('\n');

  beforeAll(async () => {
    for (const service of ['postgres', 'rabbitmq', 'kafka', 'temporal'] as const) requireService(service);
    environment = await createIsolatedEnvironment('replicas');
    db = createKnex({ poolMax: 2, applicationName: 'replicas-start-test', databaseUrl: environment.databaseUrl });
    // The development codec key is made in the stack's state folder: one of the test's own.
    stateDir = mkdtempSync(path.join(tmpdir(), 'replicas-start-'));
  }, 120_000);

  afterAll(async () => {
    if (start && start.exitCode === null && start.signalCode === null) {
      start.kill('SIGKILL');
      await new Promise((resolve) => start!.once('exit', resolve));
    }
    await db?.destroy();
    await environment?.dispose();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('brings up two of every process, takes an order through, and stops them all on SIGTERM', async () => {
    const apiPort = await freePortPair();
    const apiUrls = [`http://127.0.0.1:${apiPort}`, `http://127.0.0.1:${apiPort + 1}`];
    start = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'scripts', 'start.ts')], {
      cwd: REPO_DIR,
      env: {
        ...process.env,
        ...environment.env,
        REPLICAS: '2',
        API_PORT: String(apiPort),
        CODEC_SERVER_PORT: String(await freePort()),
        ORDERS_STATE_DIR: stateDir,
        LOG_LEVEL: 'info',
        NO_COLOR: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [start.stdout!, start.stderr!]) readline.createInterface({ input: stream }).on('line', (line) => lines.push(line));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => start!.once('exit', (code, signal) => resolve({ code, signal })));

    const expected = [...replicate(SYSTEM_PROCESSES, 2, { API_PORT: apiPort, RELAY_METRICS_PORT: 0, PROJECTOR_ORDER_METRICS_PORT: 0, PROJECTOR_ANALYTICS_METRICS_PORT: 0 }).map((p) => p.name), 'codec-server'];
    expect(expected).toHaveLength(SYSTEM_PROCESSES.length * 2 + 1);
    await waitFor('the start banner', async () => lines.some((l) => l.includes('(2 instances of every process')), Boolean, 120_000, tail);
    for (const url of apiUrls) await waitFor(`the API at ${url}`, async () => (await fetch(`${url}/health/ready`)).status, (s) => s === 200, 120_000, tail);
    const said = (name: string, text: string): boolean => lines.some((l) => l.startsWith(`[${name}] `) && l.includes(text));
    const startedLine = (name: string): string =>
      name.startsWith('worker-') ? '"worker started"' : name.startsWith('relay') ? '"relay serving health and metrics"' : name.includes('projector') ? '"projector started"' : '';
    await waitFor('every process to have started', async () => expected.filter((name) => !said(name, startedLine(name))), (left) => left.length === 0, 120_000, tail);

    // One relay leads each lane; the other stands by.
    const leases = new RelayLeaseStore(db);
    const held = await waitFor('both lanes to be led', () => leases.read(LANES), (rows) => rows.length === 2 && rows.every((r) => r.expiresInMs > 0), 30_000, tail);
    expect(held.map((r) => r.lane).sort()).toEqual([...LANES].sort());

    // An order through both API instances (the client takes them in turn).
    const made = await makeCatalog(db, 10);
    const catalog = {
      sku: made.sku,
      stock: 10,
      tokens: {
        good: await customerToken(db, made.customers.good),
        declines: await customerToken(db, made.customers.declines),
        undeliverable: await customerToken(db, made.customers.undeliverable),
        operator: await operatorToken(db),
      },
    };
    const order = await placeOrder(new ResilientApiClient(apiUrls, 30_000), catalog, 'delivered', 120_000);
    expect(order.status).toBe('delivered');

    // SIGTERM: the supervisor stops every child and exits, well within its grace period.
    // The supervisor's children that run our entrypoints (tsx's own esbuild service is one more child).
    const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(start.pid)])
      .toString()
      .split('\n')
      .filter((line) => line.includes('--import tsx'))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
    expect(children).toHaveLength(expected.length);
    const stoppingAt = Date.now();
    start.kill('SIGTERM');
    const exit = await exited;
    const stopMs = Date.now() - stoppingAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(SUPERVISOR_GRACE_MS);
    expect(children.filter(alive)).toEqual([]);
    // Each process ran its own stop to the end (the relays up to giving their leases back).
    const stopped = (name: string): string =>
      name.startsWith('worker-') ? '"worker stopped"' : name.startsWith('relay') ? '"stopping relay"' : name.includes('projector') ? '"projector stopped"' : '"api stopped"';
    expect(expected.filter((name) => name !== 'codec-server' && !said(name, stopped(name)))).toEqual([]);
    const released = await leases.read(LANES);
    expect(released.every((r) => r.expiresInMs <= 0)).toBe(true);
    console.log(JSON.stringify({ processes: children.length, orderStatus: order.status, stopMs }));
  }, 420_000);
});
