import { ActivityCancellationType, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { CatalogActivities } from '../../activities/catalog';
import type {
  InventoryActivities,
  NotificationActivities,
  PaymentActivities,
  ShippingActivities,
} from '../../activities/services';
import { TASK_QUEUES } from '../task-queues';

// Forward steps: infrastructure trouble is retried for a while; business failures are non-retryable.
const forward = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
} as const;

// Compensations are retried until they succeed: an order must never stay half-undone.
const untilDone = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;

/**
 * The forward steps as the cancel-safe saga calls them: a cancelled step is waited for until the
 * service has really stopped or finished, so the workflow knows whether its side effect happened
 * (a step that finished anyway is recorded, then undone).
 */
const waitForCancel = { ...forward, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } as const;
export const cancelSafeSteps = {
  inventory: proxyActivities<Pick<InventoryActivities, 'reserveInventory'>>({ taskQueue: TASK_QUEUES.inventory, ...waitForCancel }),
  payments: proxyActivities<Pick<PaymentActivities, 'capturePayment'>>({
    taskQueue: TASK_QUEUES.payments,
    ...waitForCancel,
    heartbeatTimeout: '5s',
  }),
  shipping: proxyActivities<Pick<ShippingActivities, 'createShipment'>>({ taskQueue: TASK_QUEUES.shipping, ...waitForCancel }),
  notifications: proxyActivities<NotificationActivities>({ taskQueue: TASK_QUEUES.notifications, ...waitForCancel }),
};

const catalogLookup = { startToCloseTimeout: '5s', retry: { maximumAttempts: 5 } } as const;
/**
 * The catalog look-up as a local activity on the order worker (a one-row read: a task queue round trip
 * would cost more than the read). Orders recorded before the local-activities patch keep the activity
 * on the inventory queue (services.catalog).
 */
export const localCatalog = proxyLocalActivities<CatalogActivities>(catalogLookup);

/** The services the saga calls, each on its own task queue. */
export const services = {
  catalog: proxyActivities<CatalogActivities>({ taskQueue: TASK_QUEUES.inventory, ...catalogLookup }),
  inventory: proxyActivities<Pick<InventoryActivities, 'reserveInventory' | 'commitReservation'>>({
    taskQueue: TASK_QUEUES.inventory,
    ...forward,
  }),
  payments: proxyActivities<Pick<PaymentActivities, 'capturePayment'>>({
    taskQueue: TASK_QUEUES.payments,
    ...forward,
    // A capture may wait on the payment provider; heartbeats tell a dead worker from a slow charge.
    heartbeatTimeout: '5s',
  }),
  shipping: proxyActivities<Pick<ShippingActivities, 'createShipment' | 'markDelivered'>>({
    taskQueue: TASK_QUEUES.shipping,
    ...forward,
  }),
  notifications: proxyActivities<NotificationActivities>({ taskQueue: TASK_QUEUES.notifications, ...forward }),
  // (Activity proxies have no own keys to spread, so each function is picked by name.)
  compensation: {
    releaseInventory: proxyActivities<InventoryActivities>({ taskQueue: TASK_QUEUES.inventory, ...untilDone }).releaseInventory,
    refundPayment: proxyActivities<PaymentActivities>({ taskQueue: TASK_QUEUES.payments, ...untilDone }).refundPayment,
    cancelShipment: proxyActivities<ShippingActivities>({ taskQueue: TASK_QUEUES.shipping, ...untilDone }).cancelShipment,
  },
};
