/**
 * Task queues: the order workflow and its event activities run on `orders`; each service the saga
 * calls has its own queue, so it can be deployed and scaled apart.
 */
export const TASK_QUEUES = {
  orders: 'orders',
  inventory: 'inventory',
  payments: 'payments',
  shipping: 'shipping',
  notifications: 'notifications',
} as const;

export type ServiceName = Exclude<keyof typeof TASK_QUEUES, 'orders'>;
