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
