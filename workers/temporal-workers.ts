import path from 'node:path';
import type { Knex } from 'knex';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { config } from '../config';
import { temporalConnectionOptions } from '../infra';
import { PostgresEventStore, EventRegistry } from '../eventstore';
import { ORDER_EVENT_DEFINITIONS } from '../domain';
import { createOrderEventActivities } from '../activities/order-events';
import {
  createInventoryActivities,
  createNotificationActivities,
  createPaymentActivities,
  createShippingActivities,
} from '../activities/services';
import { TASK_QUEUES, type ServiceName } from '../workflows/task-queues';

export const WORKFLOWS_PATH = path.resolve(__dirname, '..', 'workflows');

export type WorkerRole = 'orders' | ServiceName;
export const WORKER_ROLES: readonly WorkerRole[] = ['orders', 'inventory', 'payments', 'shipping', 'notifications'];

export interface WorkerDependencies {
  db: Knex;
  connection: NativeConnection;
  /** Prebuilt workflow code (tests bundle once); without it the worker bundles WORKFLOWS_PATH. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra options for the service activities (e.g. the payment delay in tests). */
  paymentOptions?: Parameters<typeof createPaymentActivities>[1];
}

export const orderRegistry = (): EventRegistry => new EventRegistry(ORDER_EVENT_DEFINITIONS);

function activitiesFor(role: WorkerRole, deps: WorkerDependencies): object {
  switch (role) {
    case 'orders':
      return createOrderEventActivities(new PostgresEventStore(deps.db, orderRegistry()));
    case 'inventory':
      return createInventoryActivities(deps.db);
    case 'payments':
      return createPaymentActivities(deps.db, deps.paymentOptions);
    case 'shipping':
      return createShippingActivities(deps.db);
    case 'notifications':
      return createNotificationActivities(deps.db);
  }
}

/** A worker for one task queue: the order workflow and its event activities, or one saga service. */
export async function createWorker(role: WorkerRole, deps: WorkerDependencies): Promise<Worker> {
  const taskQueue = TASK_QUEUES[role];
  const workflows =
    role === 'orders'
      ? deps.workflowBundle
        ? { workflowBundle: deps.workflowBundle }
        : { workflowsPath: WORKFLOWS_PATH }
      : {};
  return Worker.create({
    connection: deps.connection,
    namespace: config().TEMPORAL_NAMESPACE,
    taskQueue,
    activities: activitiesFor(role, deps),
    ...workflows,
  });
}

export async function connectWorkerConnection(): Promise<NativeConnection> {
  return NativeConnection.connect(await temporalConnectionOptions());
}
