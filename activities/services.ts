import type { Knex } from 'knex';
import type { ServiceName } from '../workflows/task-queues';
import { createInventoryActivities } from './inventory';
import { createNotificationActivities } from './notifications';
import { createPaymentActivities, type PaymentOptions } from './payments';
import { createShippingActivities } from './shipping';

/*
 * The activities of the services the order saga calls, one set per service: each runs on its own task
 * queue (TASK_QUEUES in workflows/task-queues.ts), so a worker registers only its service's set.
 * Workflow code takes the types below with `import type` for proxyActivities, which keeps this module
 * (and Postgres) out of the workflow bundle.
 */

export { createInventoryActivities, createNotificationActivities, createPaymentActivities, createShippingActivities };
export type { PaymentOptions };

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
export type ShippingActivities = ReturnType<typeof createShippingActivities>;
export type NotificationActivities = ReturnType<typeof createNotificationActivities>;

/** Each service's activities under its task queue's key. */
export interface ActivitiesByService {
  inventory: InventoryActivities;
  payments: PaymentActivities;
  shipping: ShippingActivities;
  notifications: NotificationActivities;
}

export type ServiceActivities = InventoryActivities & PaymentActivities & ShippingActivities & NotificationActivities;

export interface ServiceActivitiesOptions {
  payments?: Partial<PaymentOptions>;
}

export function createActivitiesByService(db: Knex, options: ServiceActivitiesOptions = {}): ActivitiesByService {
  // `satisfies` fails to compile when a service's task queue is added or removed without updating this.
  return {
    inventory: createInventoryActivities(db),
    payments: createPaymentActivities(db, options.payments),
    shipping: createShippingActivities(db),
    notifications: createNotificationActivities(db),
  } satisfies Record<ServiceName, object>;
}

/** Every service's activities in one object: for tests, or a worker that serves them all from one queue. */
export function createServiceActivities(db: Knex, options: ServiceActivitiesOptions = {}): ServiceActivities {
  const { inventory, payments, shipping, notifications } = createActivitiesByService(db, options);
  return { ...inventory, ...payments, ...shipping, ...notifications };
}
