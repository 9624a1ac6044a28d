import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { connectTemporalClient, temporalConnectionOptions, temporalDataConverter } from '../../../infra';
import { config } from '../../../config';
import { requireService } from '../../support/stack';

describe('Temporal dev server (real)', () => {
  let client: Client;

  beforeAll(async () => {
    requireService('temporal');
    client = await connectTemporalClient();
  });
  afterAll(() => client?.connection.close());

  it('runs a workflow on a worker from this repo and finds it by a custom search attribute', async () => {
    const taskQueue = `smoke-${randomUUID()}`;
    const marker = `smoke-${randomUUID()}`;
    const connection = await NativeConnection.connect(await temporalConnectionOptions());
    const worker = await Worker.create({
      connection,
      namespace: config().TEMPORAL_NAMESPACE,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/smoke-workflow'),
      dataConverter: temporalDataConverter(),
    });

    const result = await worker.runUntil(
      client.workflow.execute('smokeWorkflow', { taskQueue, workflowId: marker, args: [marker] }),
    );
    await connection.close();
    expect(result).toBe(`done:${marker}`);

    // Visibility is eventually consistent: poll until the upserted attribute is indexed.
    const deadline = Date.now() + 20_000;
    let found: string[] = [];
    while (Date.now() < deadline) {
      found = [];
      for await (const wf of client.workflow.list({ query: `OrderStatus = "${marker}"` })) found.push(wf.workflowId);
      if (found.length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(found).toEqual([marker]);
  });
});
