import type { ServiceName } from '../workflows/task-queues';

/**
 * What a Temporal worker serves: the order workflow and its event activities, or one saga service.
 * Kept apart from the activities' wiring so that the supervisor, which only names the roles, loads none
 * of the worker code.
 */
export type WorkerRole = 'orders' | ServiceName;
export const WORKER_ROLES: readonly WorkerRole[] = ['orders', 'inventory', 'payments', 'shipping', 'notifications'];
