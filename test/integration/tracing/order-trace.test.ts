/**
 * One trace per order, in the real Jaeger of the stack: the system's real processes (as `npm start`
 * runs them, in an environment of their own) with tracing on, an order placed and delivered through the
 * API, then Jaeger's query API asked for the order's trace by its `order.id` tag.
 */
import { createServer } from 'node:net';
import { Connection, type Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { DEFAULT_RELAY_FAST_PATH_GRACE_MS } from '../../../config';
import { createKnex, temporalClient, temporalConnectionOptions } from '../../../infra';
import { SYSTEM_PROCESSES, Supervisor } from '../../../workers/supervisor';
import { withWorkflowBundle } from '../../../workers/workflow-bundle';
import { orderWorkflowId } from '../../../workflows/order/contract';
import { customerToken, operatorToken } from '../../support/api';
import { createIsolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-environment';
import { JAEGER_OTLP_URL, tagOf, waitForOrderTrace, type JaegerSpan, type JaegerTrace } from '../../support/jaeger';
import { makeCatalog } from '../../support/saga-fixtures';
import { requireService } from '../../support/stack';

const WORKER_SERVICES = ['orders', 'inventory', 'payments', 'shipping', 'notifications'].map((role) => `orders-worker-${role}`);
const PROJECTOR_SERVICES = ['orders-order-projector', 'orders-analytics-projector'];

/** The environment that turns tracing on for the processes a test starts (jest turns it off by default). */
export function tracingEnvironment(): Record<string, string> {
  return {
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: JAEGER_OTLP_URL,
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    // Spans reach Jaeger within a fraction of a second.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
}

const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function call<T>(url: string, token: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, {
      method,
      headers: { ...headers, authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    // 503 while a process is still starting: wait like a client would.
    if (response.status === 503 && attempt < 60) {
      await sleep(500);
      continue;
    }
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  }
}

/** A first port of `count` consecutive free ones (the workers' Temporal metrics ports). */
async function freePorts(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  for (let base = 20_000 + Math.floor(Math.random() * 20_000); ; base += count) {
    let all = true;
    for (let i = 0; i < count && all; i++) all = await free(base + i);
    if (all) return base;
  }
}

async function waitForReady(url: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while ((await fetch(`${url}/health/ready`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`the API at ${url} was not ready within 180 s`);
    await sleep(300);
  }
}

const serviceOf = (trace: JaegerTrace, span: JaegerSpan): string => trace.processes[span.processID]?.serviceName ?? '';
const parentOf = (span: JaegerSpan): string | undefined => span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID;

/**
 * The activity types the workflow ran: those its history shows scheduled, and the event appends, which
 * run as local activities (a marker in the history, no scheduled event).
 */
async function scheduledActivities(client: Client, orderId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  const names = (history.events ?? []).map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name).filter((name): name is string => !!name);
  const markers = (history.events ?? []).filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
  expect(markers).toBeGreaterThan(0);
  return [...new Set(['appendOrderEvents', ...names])];
}

describe('one trace per order in Jaeger', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let supervisor: Supervisor;
  let connection: Connection;
  let client: Client;
  let catalog: Awaited<ReturnType<typeof makeCatalog>>;
  let tokens: { good: string; declines: string; operator: string };
  let metricsPort: number;

  beforeAll(async () => {
    requireService('jaeger');
    requireService('temporal');
    environment = await createIsolatedEnvironment('tracing');
    db = createKnex({ poolMax: 2, applicationName: 'tracing-test', databaseUrl: environment.databaseUrl });
    catalog = await makeCatalog(db, 100);
    tokens = {
      good: await customerToken(db, catalog.customers.good),
      declines: await customerToken(db, catalog.customers.declines),
      operator: await operatorToken(db),
    };
    metricsPort = await freePorts(WORKER_SERVICES.length);
    supervisor = new Supervisor({
      env: await withWorkflowBundle({
        ...process.env,
        ...environment.env,
        ...tracingEnvironment(),
        // The production default (the test environment's is 0): the fast path publishes, the relay waits for it.
        RELAY_FAST_PATH_GRACE_MS: String(DEFAULT_RELAY_FAST_PATH_GRACE_MS),
        WORKER_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'warn',
      }),
      onLine: (name, line) => {
        if (process.env.TRACING_TEST_VERBOSE) console.error(`[${name}] ${line}`);
      },
    });
    supervisor.start(SYSTEM_PROCESSES);
    connection = await Connection.connect(await temporalConnectionOptions());
    client = temporalClient(connection, environment.namespace, { codec: null });
    await waitForReady(environment.apiUrl);
  }, 300_000);

  afterAll(async () => {
    await supervisor?.stop();
    await connection?.close();
    await db?.destroy();
    await environment?.dispose();
  }, 120_000);

  /** Creates an order with one widget, submits it, and (for a card that pays) reports its delivery; returns its id once it ended. */
  async function placeOrder(token: string, deliver: boolean): Promise<string> {
    const api = environment.apiUrl;
    const created = await call<{ orderId: string }>(`${api}/orders`, token, 'POST', {});
    expect(created.status).toBe(201);
    const { orderId } = created.body;
    // A caller with a trace of its own: linked from the request's span, never its parent.
    const caller = { traceparent: `00-${CALLER_TRACE_ID}-00f067aa0ba902b7-01` };
    expect((await call(`${api}/orders/${orderId}/items`, token, 'POST', { sku: catalog.sku.widget, quantity: 1 }, caller)).status).toBe(200);
    expect((await call(`${api}/orders/${orderId}/submit`, token, 'POST')).status).toBe(200);
    const deadline = Date.now() + 120_000;
    let delivering = false;
    for (;;) {
      const { body } = await call<{ status?: string }>(`${api}/orders/${orderId}`, token, 'GET');
      if (body.status === 'delivered' || body.status === 'failed' || body.status === 'cancelled') break;
      if (deliver && body.status === 'confirmed' && !delivering) {
        expect((await call(`${api}/orders/${orderId}/delivery`, tokens.operator, 'POST', {})).status).toBe(202);
        delivering = true;
      }
      if (Date.now() > deadline) throw new Error(`order ${orderId} did not end within 120 s (read model: ${body.status})`);
      await sleep(200);
    }
    await client.workflow.getHandle(orderWorkflowId(orderId)).result().catch(() => undefined);
    return orderId;
  }

  /** The checks every order's trace passes; returns its spans by name for the test's own. */
  function checkTrace(trace: JaegerTrace, orderId: string, activities: readonly string[]) {
    const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
    const named = (name: string) => trace.spans.filter((span) => span.operationName === name);
    const ancestors = (span: JaegerSpan): JaegerSpan[] => {
      const chain: JaegerSpan[] = [];
      for (let parent = parentOf(span); parent !== undefined; parent = parentOf(byId.get(parent)!)) chain.push(byId.get(parent)!);
      return chain;
    };

    // One root, the POST /orders of the API; every other span's parent is in the trace.
    const roots = trace.spans.filter((span) => parentOf(span) === undefined);
    expect(roots.map((span) => [span.operationName, serviceOf(trace, span)])).toEqual([['POST /orders', 'orders-api']]);
    const root = roots[0]!;
    for (const span of trace.spans) {
      const parent = parentOf(span);
      if (parent !== undefined) expect([span.operationName, byId.has(parent)]).toEqual([span.operationName, true]);
    }
    // The order id on every span of the trace.
    expect(trace.spans.filter((span) => tagOf(span, 'order.id') !== orderId).map((span) => span.operationName)).toEqual([]);

    // The API's later requests are children of the order's root, not traces of their own.
    for (const name of ['POST /orders/:id/items', 'POST /orders/:id/submit']) {
      expect(named(name).map(parentOf)).toEqual([root.spanID]);
    }
    const links = named('POST /orders/:id/items')[0]!.references.filter((ref) => ref.refType === 'FOLLOWS_FROM');
    expect(links.map((ref) => [ref.traceID, ref.spanID])).toEqual([[CALLER_TRACE_ID, '00f067aa0ba902b7']]);
    // The workflow, started from the root; its updates from the requests that sent them.
    const run = named('RunWorkflow:orderWorkflow');
    expect(run.map((span) => serviceOf(trace, span))).toEqual(['orders-worker-orders']);
    expect(ancestors(run[0]!).at(-1)).toBe(root);
    const itemsRequest = named('POST /orders/:id/items')[0]!;
    expect(named('HandleUpdate:addItem').some((span) => ancestors(span).includes(itemsRequest))).toBe(true);

    // Each activity the workflow scheduled, in the worker of its task queue, under the workflow.
    expect(activities.length).toBeGreaterThan(3);
    for (const activity of activities) {
      const spans = named(`RunActivity:${activity}`);
      expect([activity, spans.length > 0]).toEqual([activity, true]);
      for (const span of spans) {
        expect(WORKER_SERVICES).toContain(serviceOf(trace, span));
        expect(byId.get(parentOf(span)!)?.operationName).toBe(`StartActivity:${activity}`);
        expect(ancestors(span).at(-1)).toBe(root);
      }
    }

    // Both brokers' publishes, from the append activity that committed the events (the fast path).
    const appends = new Set(named('RunActivity:appendOrderEvents').map((span) => span.spanID));
    for (const broker of ['rabbitmq', 'kafka']) {
      const publishes = trace.spans.filter((span) => tagOf(span, 'messaging.system') === broker && tagOf(span, 'span.kind') === 'producer');
      expect([broker, publishes.length > 0]).toEqual([broker, true]);
      for (const span of publishes) expect(appends.has(parentOf(span)!)).toBe(true);
    }
    // Both projectors, each apply a child of the append that stored the events (from their metadata).
    for (const service of PROJECTOR_SERVICES) {
      const applies = trace.spans.filter((span) => serviceOf(trace, span) === service);
      expect([service, applies.length > 0]).toEqual([service, true]);
      for (const span of applies) {
        expect(span.operationName).toMatch(/^project /);
        expect(appends.has(parentOf(span)!)).toBe(true);
      }
    }
    return { named, root, ancestors };
  }

  /** The trace is complete once the workflow's own span (exported when it ends) and both projectors are in. */
  const complete = (activities: readonly string[]) => (trace: JaegerTrace) => {
    const services = new Set(trace.spans.map((span) => serviceOf(trace, span)));
    const names = new Set(trace.spans.map((span) => span.operationName));
    return (
      names.has('RunWorkflow:orderWorkflow') &&
      activities.every((activity) => names.has(`RunActivity:${activity}`)) &&
      PROJECTOR_SERVICES.every((service) => services.has(service))
    );
  };

  it('follows a delivered order from its first request to both projectors, in one trace', async () => {
    const orderId = await placeOrder(tokens.good, true);
    const activities = await scheduledActivities(client, orderId);
    expect(activities).toEqual(expect.arrayContaining(['appendOrderEvents', 'reserveInventory', 'capturePayment', 'createShipment', 'markDelivered']));
    const { traces, trace } = await waitForOrderTrace('orders-api', orderId, complete(activities));
    expect(traces).toHaveLength(1);
    const { named, root } = checkTrace(trace!, orderId, activities);
    // The delivery report too: the signal's handler is under the report's request.
    const report = named('POST /orders/:id/delivery');
    expect(report.map(parentOf)).toEqual([root.spanID]);
    expect(named('HandleSignal:orderDelivered').length).toBeGreaterThan(0);

    // Every process finds the same one trace by the order's id.
    const services = [...new Set(trace!.spans.map((span) => serviceOf(trace!, span)))].sort();
    // The relay only when the fast path missed something (then its publish continues the append's context).
    expect(services.filter((service) => service !== 'orders-relay')).toEqual(['orders-api', ...PROJECTOR_SERVICES, ...WORKER_SERVICES].sort());
    for (const service of services) {
      const found = await waitForOrderTrace(service, orderId, () => true, 5_000);
      expect([service, found.traces.map((t) => t.traceID)]).toEqual([service, [trace!.traceID]]);
    }
  }, 240_000);

  it("serves the Temporal SDK's own metrics on each worker's port, the orders worker's first", async () => {
    for (let i = 0; i < WORKER_SERVICES.length; i++) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort + i}/metrics`)).text();
      expect([WORKER_SERVICES[i], /^temporal_\w+/m.test(text)]).toEqual([WORKER_SERVICES[i], true]);
      expect(text).toMatch(/temporal_worker_task_slots_available\{[^}]*task_queue="[^"]+"/);
    }
    // The order workflow's worker: workflow tasks scheduled to started, and its sticky cache.
    const orders = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(orders).toMatch(/^temporal_workflow_task_schedule_to_start_latency\w*/m);
    expect(orders).toMatch(/^temporal_sticky_cache_size/m);
  });

  it("shows a declined card's compensation (the inventory released) in the order's trace", async () => {
    const orderId = await placeOrder(tokens.declines, false);
    const activities = await scheduledActivities(client, orderId);
    expect(activities).toEqual(expect.arrayContaining(['reserveInventory', 'capturePayment', 'releaseInventory']));
    const { traces, trace } = await waitForOrderTrace('orders-api', orderId, complete(activities));
    expect(traces).toHaveLength(1);
    const { named, root, ancestors } = checkTrace(trace!, orderId, activities);
    const release = named('RunActivity:releaseInventory');
    expect(release.length).toBeGreaterThan(0);
    expect(ancestors(release[0]!).at(-1)).toBe(root);
    // Undone after the charge failed.
    const charge = named('RunActivity:capturePayment');
    expect(release[0]!.startTime).toBeGreaterThanOrEqual(charge[0]!.startTime);
  }, 240_000);
});
