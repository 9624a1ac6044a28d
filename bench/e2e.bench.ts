/**
 * npm run bench:e2e: orders per second from POST /orders, through the saga, to the read model, with the
 * system running as in production: separate processes (Temporal workers per task queue, relay,
 * projectors, API) in an environment of their own (fresh database, RabbitMQ vhost, Kafka topics,
 * Temporal namespace). Each order: a checkout in one call (POST /orders with its line and submit: true;
 * BENCH_CHECKOUT=three-calls creates, adds the item and submits instead), then the carrier's delivery
 * report; it counts once the read model shows it delivered. Latency is POST to read-model-visible.
 *
 * The baseline in the same run is the no-op Temporal floor of bench:saga: a workflow with the same
 * interaction (2 updates, 1 signal) and as many activities, all no-ops, started by a client directly,
 * with the same concurrency on the same server.
 *
 * Then the scale-out run: a second instance of every process joins the first (as `REPLICAS=2 npm start`
 * runs them: the second relay stands by, the workers share the task queues, the projectors the queue
 * and the Kafka group), the orders go to the two API instances in turn, and the same number is driven
 * again. The run must also be right: afterwards each projector has taken every event exactly once and
 * the read models equal a rebuild from the log (BENCH_SCALE_OUT=0 skips it).
 *
 * Those runs are with tracing off (OTEL_SDK_DISABLED=true); then the single instance is restarted with
 * tracing on (every span exported to the stack's Jaeger) for the same load: `tracing_overhead` is the
 * throughput with tracing on over the throughput with it off (BENCH_TRACING=false skips that run).
 */
import { Connection } from '@temporalio/client';
import { createKnex, createLogger, temporalClient, temporalConnectionOptions } from '../infra';
import { installTemporalLogging } from '../infra/temporal-logging';
import { PROJECTORS } from '../workers/projector';
import { SYSTEM_PROCESSES, type Supervisor, replicate } from '../workers/supervisor';
import { kafkaGroupId } from '../messaging/kafka/kafka-topics';
import { PostgresEventStore } from '../eventstore';
import { orderRegistry } from '../domain';
import { consumerCoverage, liveAndRebuiltReadModels } from '../test/integration/chaos/invariants';
import { customerToken, operatorToken } from '../test/support/api';
import { createIsolatedEnvironment, freePort } from '../test/support/isolated-environment';
import { makeCatalog } from '../test/support/saga-fixtures';
import { orderWorkflowId } from '../workflows/order/contract';
import { startFloor } from './floor';
import { startSystem, waitForReady } from './system';
import { historyMetrics, meanMetrics, type HistoryMetrics } from './history-metrics';
import { drive, percentile, reportServerBacklog, round, versusFloor } from './support';
import { readStackEnv } from '../stack/environments';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 150);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const WARMUP = 10;
const FLOOR_QUEUE = 'bench-e2e-floor';
/** Delivered bench orders whose histories are counted (the mean is reported). */
const HISTORY_SAMPLE = 10;
const SCALE_OUT = process.env.BENCH_SCALE_OUT !== '0';
/** BENCH_CHECKOUT=three-calls places orders as carts do (create, add each line, submit) instead of in one call. */
const THREE_CALLS = process.env.BENCH_CHECKOUT === 'three-calls';
const TRACING_RUN = process.env.BENCH_TRACING !== 'false';
const JAEGER_UI = `http://127.0.0.1:${readStackEnv().JAEGER_UI_PORT ?? '16686'}`;
const JAEGER_OTLP = `http://127.0.0.1:${readStackEnv().JAEGER_OTLP_HTTP_PORT ?? '4318'}`;

async function post<T>(url: string, token: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (response.ok) return JSON.parse(text) as T;
    // 429/503 would be the API protecting itself: back off like a client would; anything else is a bug.
    if ((response.status !== 429 && response.status !== 503) || attempt > 20) throw new Error(`POST ${url} answered ${response.status}: ${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
  }
}

/** One poller for every order in flight: resolves each when the read model shows it delivered. */
function readModelWatcher(db: ReturnType<typeof createKnex>) {
  const waiting = new Map<string, () => void>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      if (waiting.size > 0) {
        const { rows } = await db.raw<{ rows: { order_id: string }[] }>(
          "SELECT order_id FROM order_view WHERE order_id = ANY (?) AND status = 'delivered'",
          [[...waiting.keys()]],
        );
        for (const { order_id } of rows) {
          waiting.get(order_id)?.();
          waiting.delete(order_id);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    visible: (orderId: string): Promise<void> => new Promise((resolve) => waiting.set(orderId, resolve)),
    async stop(): Promise<void> {
      stopped = true;
      await loop;
    },
  };
}

async function confirmed(db: ReturnType<typeof createKnex>, orderId: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    const row = await db('order_view').where({ order_id: orderId, status: 'confirmed' }).first<{ order_id: string } | undefined>();
    if (row) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`order ${orderId} was not confirmed within 60 s`);
}

async function main(): Promise<void> {
  const logger = createLogger('bench-e2e');
  installTemporalLogging(logger, 'ERROR');
  if (TRACING_RUN && !(await fetch(`${JAEGER_UI}/api/services`).then((r) => r.ok, () => false))) {
    throw new Error(`Jaeger is not answering at ${JAEGER_UI} (npm run stack:up starts it; BENCH_TRACING=false runs without the tracing comparison)`);
  }
  // Another kind (letters and digits) keeps two runs at once from dropping each other's environment as leftovers.
  const environment = await createIsolatedEnvironment(process.env.BENCH_ENVIRONMENT_KIND ?? 'e2e');
  const db = createKnex({ poolMax: 4, applicationName: 'bench-e2e', databaseUrl: environment.databaseUrl });
  /** The system's processes with tracing off or on (a bundle of its own: the tracing one has the interceptors). */
  const startTraced = (tracing: boolean): Promise<Supervisor> =>
    startSystem(environment, tracing ? { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: JAEGER_OTLP } : { OTEL_SDK_DISABLED: 'true' });
  let supervisor: Supervisor | undefined;
  const connection = await Connection.connect(await temporalConnectionOptions());
  const client = temporalClient(connection, environment.namespace);
  const deletingNamespaces = await reportServerBacklog(client);
  const floor = await startFloor(client, environment.namespace, FLOOR_QUEUE);
  const watcher = readModelWatcher(db);
  try {
    const catalog = await makeCatalog(db, 1_000_000);
    const customer = await customerToken(db, catalog.customers.good);
    const operator = await operatorToken(db);
    supervisor = await startTraced(false);
    const apis = [environment.apiUrl];
    let nextApi = 0;

    const delivered: string[] = [];
    /** An order checked out with the given lines; the carrier's report sent at once (the workflow takes it once confirmed). */
    const placeAndDeliver = async (lines: { sku: string; quantity: number }[], options: { afterConfirmed?: boolean } = {}): Promise<string> => {
      // Each order to the next API instance, as a load balancer would.
      const api = apis[nextApi++ % apis.length]!;
      let orderId: string;
      let visible: Promise<void>;
      if (THREE_CALLS) {
        ({ orderId } = await post<{ orderId: string }>(`${api}/orders`, customer, {}));
        visible = watcher.visible(orderId);
        for (const line of lines) await post(`${api}/orders/${orderId}/items`, customer, line);
        await post(`${api}/orders/${orderId}/submit`, customer);
      } else {
        // Checkout in one call, as the demo places its orders: created, filled and submitted at once.
        ({ orderId } = await post<{ orderId: string }>(`${api}/orders`, customer, { lines, submit: true }));
        visible = watcher.visible(orderId);
      }
      // As the demo does: the carrier reports once the order is confirmed.
      if (options.afterConfirmed) await confirmed(db, orderId);
      await post(`${api}/orders/${orderId}/delivery`, operator, {});
      await visible;
      return orderId;
    };
    const order = async (): Promise<void> => {
      delivered.push(await placeAndDeliver([{ sku: catalog.sku.widget, quantity: 1 }]));
    };
    const costOf = async (orderIds: readonly string[]): Promise<HistoryMetrics> =>
      meanMetrics(await Promise.all(orderIds.map(async (id) => historyMetrics(await client.workflow.getHandle(orderWorkflowId(id)).fetchHistory()))));

    await drive(WARMUP, 5, floor.once);
    await drive(WARMUP, 5, order);
    const floorRes = await drive(ORDERS, CONCURRENCY, floor.once);
    console.log(`floor  ${round(floorRes.perSecond)} workflows/s  p50 ${round(percentile(floorRes.latencies, 50), 0)} ms  p99 ${round(percentile(floorRes.latencies, 99), 0)} ms`);
    const e2e = await drive(ORDERS, CONCURRENCY, order);
    console.log(`e2e    ${round(e2e.perSecond)} orders/s     p50 ${round(percentile(e2e.latencies, 50), 0)} ms  p99 ${round(percentile(e2e.latencies, 99), 0)} ms`);
    // What a delivered order costs the server: the bench's one-line order (a sample), and the demo's
    // happy-path order (two lines: KB-ERGO-01 x1, MS-WL-02 x2 in the demo; two of the bench's SKUs here).
    const oneLine = await costOf(delivered.slice(-HISTORY_SAMPLE));
    const twoLines = await costOf([await placeAndDeliver([{ sku: catalog.sku.widget, quantity: 1 }, { sku: catalog.sku.gadget, quantity: 2 }], { afterConfirmed: true })]);
    console.log(`one-line order  ${JSON.stringify(oneLine)}`);
    console.log(`two-line order  ${JSON.stringify(twoLines)}`);

    let scaleOut: Record<string, number | boolean> = {};
    if (SCALE_OUT) {
      // The second instance of every process, on ports of its own, beside the first.
      const second = replicate(SYSTEM_PROCESSES, 2, { API_PORT: 0, RELAY_METRICS_PORT: 0, PROJECTOR_ORDER_METRICS_PORT: 0, PROJECTOR_ANALYTICS_METRICS_PORT: 0, WORKER_METRICS_PORT: 0 }).filter((spec) => spec.name.endsWith('-2'));
      const apiPort = await freePort();
      for (const spec of second) spec.env = { ...spec.env, API_PORT: String(apiPort) };
      supervisor.start(second);
      apis.push(`http://127.0.0.1:${apiPort}`);
      await waitForReady(apis[1]!);
      await drive(WARMUP, 5, order);
      const scaled = await drive(ORDERS, CONCURRENCY, order);
      console.log(`scaled ${round(scaled.perSecond)} orders/s     p50 ${round(percentile(scaled.latencies, 50), 0)} ms  p99 ${round(percentile(scaled.latencies, 99), 0)} ms  (two of each process)`);
      // Not wrong: every event taken once by each projector, the read models as a rebuild makes them.
      for (const consumer of [PROJECTORS.order.consumer, kafkaGroupId(PROJECTORS.analytics.consumer, environment.topicPrefix)]) {
        const deadline = Date.now() + 60_000;
        for (let coverage = await consumerCoverage(db, consumer); coverage.missing > 0 || coverage.unknown > 0; coverage = await consumerCoverage(db, consumer)) {
          if (Date.now() > deadline) throw new Error(`scale-out run: ${consumer} did not take every event: ${JSON.stringify(coverage)}`);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      const tables = await liveAndRebuiltReadModels(db, new PostgresEventStore(db, orderRegistry(), { notifyAppends: false }));
      const unequal = Object.entries(tables).filter(([, { live, rebuilt }]) => JSON.stringify(live) !== JSON.stringify(rebuilt)).map(([table]) => table);
      if (unequal.length > 0) throw new Error(`scale-out run: read models differ from a rebuild: ${unequal.join(', ')}`);
      scaleOut = {
        scale_out_orders_per_s: round(scaled.perSecond),
        scale_out_ratio: round(scaled.perSecond / e2e.perSecond),
        scale_out_p50_ms: round(percentile(scaled.latencies, 50), 0),
        scale_out_p99_ms: round(percentile(scaled.latencies, 99), 0),
        scale_out_correct: true,
      };
    }

    // The same load with tracing on: one instance of every process again, restarted with the SDK and
    // Temporal's interceptors; compared with the single-instance run with tracing off.
    let traced: { perSecond: number; latencies: number[] } | undefined;
    if (TRACING_RUN) {
      await supervisor.stop();
      apis.splice(1);
      supervisor = await startTraced(true);
      await drive(WARMUP, 5, order);
      traced = await drive(ORDERS, CONCURRENCY, order);
      console.log(`traced ${round(traced.perSecond)} orders/s     p50 ${round(percentile(traced.latencies, 50), 0)} ms  p99 ${round(percentile(traced.latencies, 99), 0)} ms`);
    }
    console.log(
      JSON.stringify({
        orders: ORDERS,
        concurrency: CONCURRENCY,
        checkout: THREE_CALLS ? 'three-calls' : 'one-call',
        server_deleting_namespaces: deletingNamespaces ?? null,
        ...versusFloor(e2e, floorRes),
        ...scaleOut,
        history_events_per_order: twoLines.history_events,
        workflow_tasks_per_order: twoLines.workflow_tasks,
        billable_actions_per_order: twoLines.billable_actions,
        one_line_history_events_per_order: oneLine.history_events,
        one_line_workflow_tasks_per_order: oneLine.workflow_tasks,
        one_line_billable_actions_per_order: oneLine.billable_actions,
        ...(traced
          ? {
              traced_orders_per_s: round(traced.perSecond),
              traced_p95_ms: round(percentile(traced.latencies, 95), 0),
              traced_p99_ms: round(percentile(traced.latencies, 99), 0),
              tracing_overhead: round(traced.perSecond / e2e.perSecond),
            }
          : {}),
      }),
    );
  } finally {
    await watcher.stop();
    await supervisor?.stop();
    await floor.stop();
    await connection.close();
    await db.destroy();
    await environment.dispose();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
