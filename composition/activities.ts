import type { Knex } from 'knex';
import type { Logger } from '../infra/logger';
import { createCatalogActivities } from '../activities/catalog';
import { createOrderEventActivities } from '../activities/order-events';
import { PublishingBesideAppend, createPublishingActivities } from '../activities/publishing';
import {
  createInventoryActivities,
  createNotificationActivities,
  createPaymentActivities,
  createShippingActivities,
  type PaymentOptions,
} from '../activities/services';
import { FastPathDeliveries } from '../messaging/relay/fast-path-deliveries';
import { lazyBrokerPublishers } from './publishers';
import { createOrderEventStore } from './store';

import type { WorkerRole } from './worker-roles';

export { WORKER_ROLES, type WorkerRole } from './worker-roles';

export interface ActivityDependencies {
  db: Knex;
  /** Extra options for the payment activities (e.g. the capture delay in tests). */
  paymentOptions?: Partial<PaymentOptions>;
  logger?: Logger;
}

export interface RoleActivities {
  activities: object;
  /** Releases what the activities hold (the order role's broker connections); never rejects. */
  dispose(): Promise<void>;
}

/** The activities of one worker role, with what they need: the store and the publishers for the order role. */
export function createActivities(role: WorkerRole, deps: ActivityDependencies): RoleActivities {
  const nothingToDispose = async (): Promise<void> => undefined;
  switch (role) {
    case 'orders': {
      // This store appends: it notifies the LISTENing subscribers (the relay) of new events.
      const store = createOrderEventStore(deps.db, { notifyAppends: true });
      const { publishers, close } = lazyBrokerPublishers('order-worker');
      const publishing = { store, publishers, deliveries: new FastPathDeliveries(deps.db) };
      const besideAppend = new PublishingBesideAppend(publishing, { logger: deps.logger });
      // The catalog look-up runs here as a local activity, beside the workflow that asks for it.
      const activities = { ...createOrderEventActivities(store, besideAppend), ...createPublishingActivities(publishing), ...createCatalogActivities(deps.db) };
      // What the appends left to publish goes out before the broker connections close.
      return { activities, dispose: () => besideAppend.flush().then(close) };
    }
    case 'inventory':
      return { activities: createInventoryActivities(deps.db), dispose: nothingToDispose };
    case 'payments':
      return { activities: createPaymentActivities(deps.db, deps.paymentOptions), dispose: nothingToDispose };
    case 'shipping':
      return { activities: createShippingActivities(deps.db), dispose: nothingToDispose };
    case 'notifications':
      return { activities: createNotificationActivities(deps.db), dispose: nothingToDispose };
  }
}
