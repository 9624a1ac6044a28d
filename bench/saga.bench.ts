/**
 * npm run bench:saga: N orders through the full saga (draft, submit, reserve, capture, ship, confirm,
 * deliver) with concurrency C on the dev server, against the Temporal floor measured in the same run:
 * a workflow with the same interaction (2 updates, 1 signal) and the same number of activities (16),
 * all of them no-ops, on the same server with the same number of workers. The saga runs twice: with
 * plain payloads (the figures against the floor) and with every payload encrypted by the codec
 * (infra/codec), on workers and a client of their own: `codec_ratio` is encrypted / plain orders/s.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createKnex } from '../infra';
import { config } from '../config';
import { upsertCustomers, upsertProducts } from '../activities/catalog-seed';
import { installTemporalLogging } from '../infra/temporal-logging';
import { createLogger } from '../infra';
import { runWorkers, type RunningWorkers } from '../test/support/temporal';
import { AesGcmPayloadCodec, generateKeyEntry, parseKeyList } from '../infra/codec/payload-codec';
import { createIsolatedEnvironment } from '../test/support/isolated-environment';
import { addItemUpdate, orderDeliveredSignal, orderWorkflowId, submitOrderUpdate } from '../workflows/order/contract';
import { TASK_QUEUES } from '../workflows/task-queues';
import { startFloor } from './floor';
import { drive, percentile, reportServerBacklog, round, versusFloor } from './support';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const FLOOR_QUEUE = 'bench-floor';

async function main(): Promise<void> {
  installTemporalLogging(createLogger('bench-saga'), 'ERROR');
  // An environment of its own: the benchmark's orders stay out of the app's database and namespace.
  const environment = await createIsolatedEnvironment('saga');
  environment.enter();
  const db = createKnex({ applicationName: 'bench-saga', poolMax: 20 });
  const tag = randomUUID().slice(0, 8);
  const sku = `BENCH-${tag}`;
  const customerId = `bench-${tag}`;
  await upsertProducts(db, [{ sku, name: 'Bench item', unitPrice: { amountMinor: 500, currency: 'USD' }, stock: 1_000_000 }]);
  await upsertCustomers(db, [
    {
      customerId,
      name: 'Bench',
      email: `${customerId}@example.com`,
      shippingAddress: { line1: '1 Main St', city: 'New York', postalCode: '10001', country: 'US' },
      paymentMethod: { paymentMethodId: `pm-${customerId}`, label: 'Bench card', behaviour: 'approve' },
    },
  ]);

  // Plain payloads first (as without keys), then the same saga encrypted: one set of workers at a time,
  // since a worker without the codec cannot read an encrypted task.
  let workers: RunningWorkers = await runWorkers(db, undefined, { codec: null });
  let client: Client = workers.client;
  const deletingNamespaces = await reportServerBacklog(client);
  const floor = await startFloor(client, config().TEMPORAL_NAMESPACE, FLOOR_QUEUE, { codec: null });

  const order = async (): Promise<void> => {
    const orderId = randomUUID();
    const handle = await client.workflow.start('orderWorkflow', {
      taskQueue: TASK_QUEUES.orders,
      workflowId: orderWorkflowId(orderId),
      args: [{ orderId, customerId, currency: 'USD' }],
    });
    await handle.executeUpdate(addItemUpdate, { args: [{ sku, quantity: 1 }] });
    await handle.executeUpdate(submitOrderUpdate);
    // The carrier's signal may come early: the workflow takes it once the order is confirmed.
    await handle.signal(orderDeliveredSignal, {});
    const outcome = (await handle.result()) as { status: string };
    if (outcome.status !== 'delivered') throw new Error(`order ${orderId} ended ${outcome.status}`);
  };

  // Warm both paths, then measure the floor and the saga back to back.
  await drive(10, 5, floor.once);
  await drive(10, 5, order);
  const floorRes = await drive(ORDERS, CONCURRENCY, floor.once);
  console.log(`floor  ${round(floorRes.perSecond)} workflows/s  p50 ${round(percentile(floorRes.latencies, 50), 0)} ms  p95 ${round(percentile(floorRes.latencies, 95), 0)} ms`);
  const sagaRes = await drive(ORDERS, CONCURRENCY, order);
  console.log(`saga   ${round(sagaRes.perSecond)} orders/s     p50 ${round(percentile(sagaRes.latencies, 50), 0)} ms  p95 ${round(percentile(sagaRes.latencies, 95), 0)} ms`);
  await floor.stop();
  await workers.stop();

  const codec = new AesGcmPayloadCodec({ keys: parseKeyList(generateKeyEntry('bench'), 'bench') });
  workers = await runWorkers(db, undefined, { codec });
  client = workers.client;
  await drive(10, 5, order);
  const encryptedRes = await drive(ORDERS, CONCURRENCY, order);
  console.log(`codec  ${round(encryptedRes.perSecond)} orders/s     p50 ${round(percentile(encryptedRes.latencies, 50), 0)} ms  p95 ${round(percentile(encryptedRes.latencies, 95), 0)} ms  (every payload encrypted)`);
  await workers.stop();
  await db.destroy();
  await environment.dispose();
  console.log(
    JSON.stringify({
      orders: ORDERS,
      concurrency: CONCURRENCY,
      server_deleting_namespaces: deletingNamespaces ?? null,
      ...versusFloor(sagaRes, floorRes),
      codec_orders_per_s: round(encryptedRes.perSecond),
      codec_p95_ms: round(percentile(encryptedRes.latencies, 95), 0),
      codec_ratio: round(encryptedRes.perSecond / sagaRes.perSecond),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
