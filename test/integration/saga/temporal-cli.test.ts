import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { config } from '../../../config';
import { openTestDatabase } from '../../support/postgres';
import { temporalBinary } from '../../support/stack';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { eventTypes, makeCatalog, waitForStatus } from '../../support/saga-fixtures';

const run = promisify(execFile);

/**
 * The exact commands the README documents, run with the real `temporal` binary. Asynchronously: the
 * workers live in this process, and a blocking call would starve them while the CLI waits on them.
 */
async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await run(temporalBinary(), [...args, '--address', config().TEMPORAL_ADDRESS, '--namespace', config().TEMPORAL_NAMESPACE]);
  return stdout;
}

describe('driving orders with the temporal CLI', () => {
  let db: Knex;
  let workers: RunningWorkers;
  let catalog: Awaited<ReturnType<typeof makeCatalog>>;

  beforeAll(async () => {
    db = await openTestDatabase();
    workers = await runWorkers(db);
    catalog = await makeCatalog(db, 5);
  }, 120_000);
  afterAll(async () => {
    await workers?.stop();
    await db?.destroy();
  });

  async function startWithCli(): Promise<string> {
    const orderId = randomUUID();
    const workflowId = `order-${orderId}`;
    await temporal(
      'workflow', 'start', '--type', 'orderWorkflow', '--task-queue', 'orders', '--workflow-id', workflowId,
      '--id-conflict-policy', 'Fail',
      '--input', JSON.stringify({ orderId, customerId: catalog.customers.good, currency: 'USD' }),
    );
    return workflowId;
  }

  it('starts, edits (update), queries, submits and delivers (signal) an order', async () => {
    const workflowId = await startWithCli();
    const added = await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'addItem',
      '--input', JSON.stringify({ sku: catalog.sku.widget, quantity: 2 }), '--output', 'json');
    expect(added).toContain('"draft"');

    const queried = JSON.parse(await temporal('workflow', 'query', '--workflow-id', workflowId, '--name', 'getOrder', '--output', 'json')) as {
      queryResult: { status: string; items: Record<string, { quantity: number }> }[];
    };
    expect(queried.queryResult[0]?.status).toBe('draft');
    expect(queried.queryResult[0]?.items[catalog.sku.widget]?.quantity).toBe(2);

    await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'submitOrder');
    const handle = workers.client.workflow.getHandle(workflowId);
    await waitForStatus(handle, ['confirmed']);
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'orderDelivered', '--input', '{}');
    await handle.result();

    expect((await eventTypes(db, handle)).slice(-2)).toEqual(['OrderConfirmed', 'OrderDelivered']);
  });

  it('cancels an order with the cancelOrder signal, and a second start with the same id is refused', async () => {
    const workflowId = await startWithCli();
    await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'addItem',
      '--input', JSON.stringify({ sku: catalog.sku.gadget, quantity: 1 }));
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'cancelOrder', '--input', '{"reason":"cancelled from the CLI"}');
    const handle = workers.client.workflow.getHandle(workflowId);
    expect(await handle.result()).toMatchObject({ status: 'cancelled', cancellationReason: 'cancelled from the CLI' });
    expect((await eventTypes(db, handle)).at(-1)).toBe('OrderCancelled');

    // Starting the same order again never makes a second order: the id is taken for good.
    const orderId = workflowId.replace(/^order-/, '');
    await temporal('workflow', 'start', '--type', 'orderWorkflow', '--task-queue', 'orders', '--workflow-id', workflowId,
      '--id-conflict-policy', 'Fail', '--id-reuse-policy', 'RejectDuplicate',
      '--input', JSON.stringify({ orderId, customerId: catalog.customers.good, currency: 'USD' })).catch(() => undefined);
    const runs = [];
    for await (const wf of workers.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push(wf.runId);
    expect(runs).toHaveLength(1);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  it('an update the validator rejects reports the domain error', async () => {
    const workflowId = await startWithCli();
    let output = '';
    try {
      await temporal('workflow', 'update', 'execute', '--workflow-id', workflowId, '--name', 'addItem', '--input', '{"sku":"X","quantity":0}');
    } catch (err) {
      output = String((err as { stderr?: string }).stderr ?? err);
    }
    expect(output).toMatch(/quantity/i);
    await temporal('workflow', 'signal', '--workflow-id', workflowId, '--name', 'cancelOrder', '--input', '{}');
  });
});
