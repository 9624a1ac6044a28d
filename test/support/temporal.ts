import type { Knex } from 'knex';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, type NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { config } from '../../config';
import {
  WORKER_ROLES,
  WORKFLOWS_PATH,
  connectWorkerConnection,
  createWorker,
  type WorkerDependencies,
  type RoleWorker,
  type WorkerRole,
} from '../../workers/temporal-workers';
import { connectTemporalClient } from '../../infra';
import { requireService } from './stack';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow code, bundled once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet });
  return bundle;
}

export interface RunningWorkers {
  client: Client;
  stop(): Promise<void>;
}

/** Runs real workers for the given task queues against the dev server, in this process. */
export async function runWorkers(
  db: Knex,
  roles: readonly WorkerRole[] = WORKER_ROLES,
  options: Pick<WorkerDependencies, 'paymentOptions' | 'codec'> = {},
): Promise<RunningWorkers> {
  requireService('temporal');
  const connection: NativeConnection = await connectWorkerConnection();
  const created: RoleWorker[] = [];
  for (const role of roles) {
    created.push(await createWorker(role, { db, connection, workflowBundle: await workflowBundle(), ...options }));
  }
  const workers: Worker[] = created.map((c) => c.worker);
  const running = workers.map((w) => w.run());
  const client = await connectTemporalClient({ codec: options.codec });
  return {
    client,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      await Promise.all(created.map((c) => c.dispose()));
      await connection.close();
      await client.connection.close();
    },
  };
}

export const namespace = (): string => config().TEMPORAL_NAMESPACE;
export type { Client };
