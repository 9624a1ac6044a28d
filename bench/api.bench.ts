/**
 * npm run bench:api: the API against bare baselines on the same machine, in the same run.
 *  GET  /orders/{id} through the API (auth, validation, read model)  vs  a bare Fastify route running the
 *       same lookup as one raw pg query;
 *  POST /orders through the API (auth, validation, start the workflow)  vs  a bare client.workflow.start loop;
 *  a checkout in one call (POST /orders with lines and submit: Update-with-Start)  vs  today's three calls
 *       (create, add the item, submit), each order timed from its first request to the submitted answer,
 *       against the system in processes of its own (as npm start runs them), its sagas running beside.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { Pool } from 'pg';
import { config } from '../config';
import { Connection, type Client } from '@temporalio/client';
import { createKnex, createLogger, temporalClient, temporalConnectionOptions } from '../infra';
import { installTemporalLogging } from '../infra/temporal-logging';
import { PostgresEventStore } from '../eventstore';
import { ProjectionRunner } from '../projections';
import { ORDER_STATUSES, orderRegistry } from '../domain';
import { runWorkers } from '../test/support/temporal';
import { customerToken, startApi } from '../test/support/api';
import { createIsolatedEnvironment } from '../test/support/isolated-environment';
import { makeCatalog } from '../test/support/saga-fixtures';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId } from '../workflows/order/contract';
import { TASK_QUEUES } from '../workflows/task-queues';
import { drive, percentile, reportServerBacklog, round } from './support';
import { startSystem } from './system';

// The per-key rate limit guards production; a benchmark measures throughput, so it is lifted here.
process.env.API_RATE_LIMIT_PER_MINUTE ??= '100000000';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const POST_COUNT = Number(process.env.BENCH_POSTS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHECKOUT_COUNT = Number(process.env.BENCH_CHECKOUTS ?? 100);
const CONNECTIONS = 16;
/** Checkouts in flight at once (BENCH_CHECKOUT_CONCURRENCY=1 shows a checkout's own cost, free of queueing). */
const CHECKOUT_CONCURRENCY = Number(process.env.BENCH_CHECKOUT_CONCURRENCY ?? CONNECTIONS);
/** A submitted order's saga is still running its forward steps in these statuses (the domain lists them in order, up to confirmed). */
const SAGA_IN_FLIGHT = ORDER_STATUSES.slice(ORDER_STATUSES.indexOf('submitted'), ORDER_STATUSES.indexOf('confirmed'));

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Polls until no running workflow matches `query` (at most 600 polls), e.g. until orders have caught up. */
async function untilNoneRunning(client: Pick<Client, 'workflow'>, query: string, { intervalMs, what }: { intervalMs: number; what: string }): Promise<void> {
  for (let i = 0; ; i++) {
    const { count } = await client.workflow.count(`ExecutionStatus = "Running" AND ${query}`);
    if (count === 0) return;
    if (i > 600) throw new Error(`${count} ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function load(url: string, options: Partial<autocannon.Options>): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration: DURATION_S, ...options });
}

async function main(): Promise<void> {
  installTemporalLogging(createLogger('bench-api'), 'ERROR');
  // An environment of its own: the benchmark's hundreds of orders stay out of the app's database and namespace.
  const environment = await createIsolatedEnvironment('api');
  environment.enter();
  const db = createKnex({ applicationName: 'bench-api', poolMax: 20 });
  const workers = await runWorkers(db);
  const api = await startApi(db, workers.client);
  const deletingNamespaces = await reportServerBacklog(workers.client);
  // Stock for every checkout's saga: an out-of-stock unwinding would load one side more than the other.
  const catalog = await makeCatalog(db, 1_000_000);
  const token = await customerToken(db, catalog.customers.good);

  // One order in the read model to read back.
  const created = await fetch(`${api.url}/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const { orderId } = (await created.json()) as { orderId: string };
  const store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
  const runner = new ProjectionRunner({ db, store });
  for (let i = 0; !(await db('order_view').where({ order_id: orderId }).first()); i++) {
    if (i > 600) throw new Error(`order ${orderId} never reached the read model`);
    const events = await store.readStream(`Order-${orderId}`);
    if (events.length > 0) await runner.applyEvents('order_view', events);
    else await new Promise((r) => setTimeout(r, 50));
  }

  // The baseline for GET: the same lookup, raw, behind a bare route.
  const pool = new Pool({ connectionString: config().DATABASE_URL, max: 20 });
  const bare = Fastify();
  bare.get<{ Params: { id: string } }>('/orders/:id', async (request) => {
    const { rows } = await pool.query('SELECT * FROM order_view WHERE order_id = $1', [request.params.id]);
    return rows[0];
  });
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;

  const headers = { authorization: `Bearer ${token}` };
  const probe = await fetch(`${api.url}/orders/${orderId}`, { headers });
  if (probe.status !== 200) throw new Error(`GET /orders/${orderId} answered ${probe.status}: ${await probe.text()}`);
  await load(`${api.url}/orders/${orderId}`, { headers, duration: 2 });
  await load(`${bareUrl}/orders/${orderId}`, { duration: 2 });
  // Interleaved rounds, each side's median reported: drift on a shared machine hits both sides alike.
  const getRounds: { ours: autocannon.Result; raw: autocannon.Result }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const ours = await load(`${api.url}/orders/${orderId}`, { headers });
    if (ours.non2xx > 0) throw new Error(`GET answered ${ours.non2xx} non-2xx responses`);
    getRounds.push({ ours, raw: await load(`${bareUrl}/orders/${orderId}`, {}) });
  }
  const getOursRps = median(getRounds.map((r) => r.ours.requests.average));
  const getRawRps = median(getRounds.map((r) => r.raw.requests.average));
  const getP99 = median(getRounds.map((r) => r.ours.latency.p99));
  console.log(`GET  api ${round(getOursRps, 0)} req/s p99 ${getP99} ms   bare ${round(getRawRps, 0)} req/s p99 ${median(getRounds.map((r) => r.raw.latency.p99))} ms`);

  // POST /orders: a fixed number of orders each way per round, same concurrency.
  // Both sides as the same closed loop of CONNECTIONS callers timed the same way (autocannon reports
  // its duration in whole sampling ticks, too coarse for a few hundred requests).
  const postThroughApi = async (): Promise<number> =>
    (
      await drive(POST_COUNT, CONNECTIONS, async () => {
        const response = await fetch(`${api.url}/orders`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
        if (response.status !== 201) throw new Error(`POST /orders answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      })
    ).perSecond;
  const bareStarts = async (): Promise<number> =>
    (
      await drive(POST_COUNT, CONNECTIONS, async () => {
        const id = randomUUID();
        await workers.client.workflow.start(ORDER_WORKFLOW_TYPE, {
          taskQueue: TASK_QUEUES.orders,
          workflowId: orderWorkflowId(id),
          args: [{ orderId: id, customerId: catalog.customers.good, currency: 'USD' }],
        });
      })
    ).perSecond;
  const postRounds: { ours: number; raw: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first: the server's SQLite grows with every start.
    if (r % 2 === 0) postRounds.push({ ours: await postThroughApi(), raw: await bareStarts() });
    else {
      const raw = await bareStarts();
      postRounds.push({ ours: await postThroughApi(), raw });
    }
  }
  const postOursPerS = median(postRounds.map((r) => r.ours));
  const postRawPerS = median(postRounds.map((r) => r.raw));
  console.log(`POST api ${round(postOursPerS)} orders/s   bare workflow.start ${round(postRawPerS)} starts/s`);

  // The POST rounds leave hundreds of first workflow tasks queued (a start does not wait for them); a
  // checkout waits for its workflow's task, so it is measured once the workers have caught up.
  await untilNoneRunning(workers.client, 'OrderStatus IS NULL', { intervalMs: 500, what: 'started orders never recorded their creation' });

  // Checkout is measured as a client meets it in production: the API, the workers, the relay and the
  // projectors in processes of their own (as npm start runs them), not beside the benchmark's event loop.
  await api.close();
  await workers.stop();
  const connection = await Connection.connect(await temporalConnectionOptions());
  const client = temporalClient(connection, environment.namespace);
  const system = await startSystem(environment, { OTEL_SDK_DISABLED: 'true' });
  const apiUrl = environment.apiUrl;

  // Checkout: the same one-line order each way, submitted, per round; latency per order.
  const json = { ...headers, 'content-type': 'application/json' };
  const expectOk = async (response: Response, status: number, what: string): Promise<Record<string, unknown>> => {
    if (response.status !== status) throw new Error(`${what} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as Record<string, unknown>;
  };
  const line = { sku: catalog.sku.widget, quantity: 1 };
  const oneCall = async (): Promise<number[]> =>
    (
      await drive(CHECKOUT_COUNT, CHECKOUT_CONCURRENCY, async () => {
        const body = JSON.stringify({ lines: [line], submit: true });
        const order = await expectOk(await fetch(`${apiUrl}/orders`, { method: 'POST', headers: json, body }), 201, 'checkout');
        if (order.status !== 'submitted') throw new Error(`checkout answered status ${String(order.status)}`);
      })
    ).latencies;
  const threeCalls = async (): Promise<number[]> =>
    (
      await drive(CHECKOUT_COUNT, CHECKOUT_CONCURRENCY, async () => {
        const { orderId: id } = await expectOk(await fetch(`${apiUrl}/orders`, { method: 'POST', headers: json, body: '{}' }), 201, 'create');
        await expectOk(await fetch(`${apiUrl}/orders/${String(id)}/items`, { method: 'POST', headers: json, body: JSON.stringify(line) }), 200, 'add item');
        await expectOk(await fetch(`${apiUrl}/orders/${String(id)}/submit`, { method: 'POST', headers }), 200, 'submit');
      })
    ).latencies;
  // Each side's submitted orders run their sagas in the system's workers after it answered: the next
  // side starts once they have all been confirmed, so that neither side queues behind the other's sagas.
  const inFlight = SAGA_IN_FLIGHT.map((status) => `"${status}"`).join(', ');
  const settled = (): Promise<void> =>
    untilNoneRunning(client, `OrderStatus IN (${inFlight})`, { intervalMs: 250, what: 'submitted orders were never confirmed' });
  const oneCallLatencies: number[] = [];
  const threeCallLatencies: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first, as for POST.
    for (const side of r % 2 === 0 ? ['one', 'three'] : ['three', 'one']) {
      if (side === 'one') oneCallLatencies.push(...(await oneCall()));
      else threeCallLatencies.push(...(await threeCalls()));
      await settled();
    }
  }
  oneCallLatencies.sort((a, b) => a - b);
  threeCallLatencies.sort((a, b) => a - b);
  const spread = (latencies: readonly number[]) => ({
    p50: round(percentile(latencies, 50), 1),
    p95: round(percentile(latencies, 95), 1),
    p99: round(percentile(latencies, 99), 1),
    max: round(latencies[latencies.length - 1] ?? 0, 1),
  });
  const checkout = { one: spread(oneCallLatencies), three: spread(threeCallLatencies) };
  console.log(`CHECKOUT one call ${JSON.stringify(checkout.one)} ms   three calls ${JSON.stringify(checkout.three)} ms`);

  await bare.close();
  await pool.end();
  await system.stop();
  await connection.close();
  await db.destroy();
  await environment.dispose();
  console.log(
    JSON.stringify({
      get_rps: round(getOursRps, 0),
      get_p99_ms: getP99,
      raw_get_rps: round(getRawRps, 0),
      get_ratio: round(getOursRps / getRawRps),
      post_rps: round(postOursPerS),
      raw_start_per_s: round(postRawPerS),
      post_ratio: round(postOursPerS / postRawPerS),
      checkout_one_call_p50_ms: checkout.one.p50,
      checkout_one_call_p95_ms: checkout.one.p95,
      checkout_one_call_p99_ms: checkout.one.p99,
      checkout_three_calls_p50_ms: checkout.three.p50,
      checkout_three_calls_p95_ms: checkout.three.p95,
      checkout_three_calls_p99_ms: checkout.three.p99,
      checkout_p50_ratio: round(checkout.one.p50 / checkout.three.p50),
      checkout_p99_ratio: round(checkout.one.p99 / checkout.three.p99),
      checkouts_per_side: CHECKOUT_COUNT * ROUNDS,
      checkout_concurrency: CHECKOUT_CONCURRENCY,
      server_deleting_namespaces: deletingNamespaces ?? null,
      rounds: ROUNDS,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
