import path from 'node:path';
import type { Knex } from 'knex';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { config } from '../config';
import type { Logger } from '../infra/logger';
import { temporalConnectionOptions } from '../infra';
import { PostgresEventStore, EventRegistry } from '../eventstore';
import { ORDER_EVENT_DEFINITIONS } from '../domain';
import { createOrderEventActivities } from '../activities/order-events';
import { PublishingBesideAppend, createPublishingActivities } from '../activities/publishing';
import { FastPathDeliveries } from '../messaging/fast-path-deliveries';
import type { EventPublisher } from '../messaging/publisher';
import { KafkaPublisher } from '../messaging/kafka-publisher';
import { RabbitMqPublisher } from '../messaging/rabbitmq-publisher';
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
  logger?: Logger;
}

export const orderRegistry = (): EventRegistry => new EventRegistry(ORDER_EVENT_DEFINITIONS);

/**
 * Publishers for the publishing activity, connected on first use: a broker that is down when the
 * worker starts must not keep orders from running (the relay delivers whatever this path misses).
 */
function lazyPublishers(): { publishers: EventPublisher[]; close(): Promise<void> } {
  let rabbit: Promise<EventPublisher> | undefined;
  const kafka = new KafkaPublisher();
  const rabbitmq: EventPublisher = {
    broker: 'rabbitmq',
    maxInFlightBatches: 1,
    async publish(events) {
      rabbit ??= RabbitMqPublisher.connect({ connectionName: 'order-worker' });
      const publisher = await rabbit.catch((err: unknown) => {
        rabbit = undefined;
        throw err;
      });
      await publisher.publish(events);
    },
    async close() {
      await (await rabbit?.catch(() => undefined))?.close();
    },
  };
  return { publishers: [rabbitmq, kafka], close: async () => void (await Promise.allSettled([rabbitmq.close(), kafka.close()])) };
}

function activitiesFor(role: WorkerRole, deps: WorkerDependencies, onClose: (close: () => Promise<void>) => void): object {
  switch (role) {
    case 'orders': {
      const store = new PostgresEventStore(deps.db, orderRegistry());
      const { publishers, close } = lazyPublishers();
      onClose(close);
      const publishing = { store, publishers, deliveries: new FastPathDeliveries(deps.db) };
      const besideAppend = new PublishingBesideAppend(publishing, { logger: deps.logger });
      return { ...createOrderEventActivities(store, besideAppend), ...createPublishingActivities(publishing) };
    }
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

export interface RoleWorker {
  worker: Worker;
  /** Releases what the activities hold (broker connections); call after the worker stopped. */
  dispose(): Promise<void>;
}

/** A worker for one task queue: the order workflow and its event activities, or one saga service. */
export async function createWorker(role: WorkerRole, deps: WorkerDependencies): Promise<RoleWorker> {
  const closers: (() => Promise<void>)[] = [];
  const taskQueue = TASK_QUEUES[role];
  const prebuilt = config().WORKFLOW_BUNDLE_PATH;
  const bundle = deps.workflowBundle ?? (prebuilt ? { codePath: prebuilt } : undefined);
  const workflows = role === 'orders' ? (bundle ? { workflowBundle: bundle } : { workflowsPath: WORKFLOWS_PATH }) : {};
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: config().TEMPORAL_NAMESPACE,
    taskQueue,
    activities: activitiesFor(role, deps, (close) => closers.push(close)),
    ...workflows,
  });
  return { worker, dispose: async () => void (await Promise.allSettled(closers.map((close) => close()))) };
}

export async function connectWorkerConnection(): Promise<NativeConnection> {
  return NativeConnection.connect(await temporalConnectionOptions());
}
