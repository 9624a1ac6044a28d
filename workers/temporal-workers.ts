import path from 'node:path';
import type { Knex } from 'knex';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { config } from '../config';
import type { Logger } from '../infra/logger';
import { temporalConnectionOptions, temporalDataConverter } from '../infra';
import type { DataConverterOptions } from '../infra/temporal';
import { createActivities, type ActivityDependencies, type WorkerRole } from '../composition/activities';
import { TASK_QUEUES } from '../workflows/task-queues';
import { temporalWorkerTracing } from '../infra/temporal-tracing';

export { WORKER_ROLES, type WorkerRole } from '../composition/activities';

export const WORKFLOWS_PATH = path.resolve(__dirname, '..', 'workflows');

export interface WorkerDependencies {
  db: Knex;
  connection: NativeConnection;
  /** Prebuilt workflow code (tests bundle once); without it the worker bundles WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra options for the service activities (e.g. the payment delay in tests). */
  paymentOptions?: ActivityDependencies['paymentOptions'];
  logger?: Logger;
  /** The payload codec (default: the configured one; null: none), see infra/temporal.ts. */
  codec?: DataConverterOptions['codec'];
}

export interface RoleWorker {
  worker: Worker;
  /** Releases what the activities hold (broker connections); call after the worker stopped. */
  dispose(): Promise<void>;
}

/** A worker for one task queue: the order workflow and its event activities, or one saga service. */
export async function createWorker(role: WorkerRole, deps: WorkerDependencies): Promise<RoleWorker> {
  const taskQueue = TASK_QUEUES[role];
  const prebuilt = config().WORKFLOW_BUNDLE_PATH;
  const bundle = deps.workflowBundle ?? (prebuilt ? { codePath: prebuilt } : undefined);
  const workflows = role === 'orders' ? (bundle ? { workflowBundle: bundle } : { workflowsPath: WORKFLOWS_PATH }) : {};
  const { activities, dispose } = createActivities(role, deps);
  try {
    const worker = await Worker.create({
      connection: deps.connection,
      namespace: config().TEMPORAL_NAMESPACE,
      taskQueue,
      activities,
      dataConverter: temporalDataConverter({ codec: deps.codec }),
      // With the fixed default (two of ten workflow-task polls on the shared queue), a new order's first
      // task (a one-call checkout's whole work) queued behind running orders' sticky tasks under load:
      // bench:api's one-call checkout p99 halved once the pollers scale with the backlog the server reports.
      workflowTaskPollerBehavior: { type: 'autoscaling' },
      activityTaskPollerBehavior: { type: 'autoscaling' },
      ...workflows,
      ...temporalWorkerTracing({ bundles: role === 'orders' && bundle === undefined }),
    });
    return { worker, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export async function connectWorkerConnection(): Promise<NativeConnection> {
  return NativeConnection.connect(await temporalConnectionOptions());
}
