/**
 * The no-op Temporal floor that bench:saga and bench:e2e compare against: floorWorkflow (the order
 * saga's shape: 2 updates, 1 signal, as many activities, all no-ops) on a worker of its own.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { connectWorkerConnection } from '../workers/temporal-workers';
import { temporalDataConverter, type DataConverterOptions } from '../infra/temporal';
import { floorSignal, floorUpdate } from './floor-workflows';

/** The saga's activities up to delivery (events appended and published, reserve, capture, ship, notify...). */
export const SAGA_ACTIVITIES = 16;

export interface Floor {
  /** One floor workflow from start to result, driven like an order. */
  once(): Promise<void>;
  stop(): Promise<void>;
}

export async function startFloor(client: Client, namespace: string, taskQueue: string, options: DataConverterOptions = {}): Promise<Floor> {
  const connection = await connectWorkerConnection();
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowsPath: require.resolve('./floor-workflows'),
    activities: { noop: async () => undefined },
    dataConverter: temporalDataConverter(options),
  });
  const running = worker.run();
  return {
    async once() {
      const handle = await client.workflow.start('floorWorkflow', { taskQueue, workflowId: `bench-floor-${randomUUID()}`, args: [SAGA_ACTIVITIES] });
      await handle.executeUpdate(floorUpdate);
      await handle.executeUpdate(floorUpdate);
      await handle.signal(floorSignal);
      await handle.result();
    },
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
