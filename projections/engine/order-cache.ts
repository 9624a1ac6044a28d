import type { OrderState } from '../../domain';
import type { AppliedOrder } from './types';

/**
 * The states a rebuild has written, most recently used last, up to a bound. Once it has dropped one,
 * an order missing here may still have rows, so the rebuild reads such orders back from its tables.
 */
export class OrderStateCache {
  private readonly states = new Map<string, OrderState>();
  private dropped = false;

  constructor(private readonly maxOrders: number) {}

  get(orderId: string): OrderState | undefined {
    return this.states.get(orderId);
  }

  /** Whether a miss may be an order that has rows (the cache has dropped some). */
  get incomplete(): boolean {
    return this.dropped;
  }

  remember(orders: Iterable<AppliedOrder>): void {
    for (const order of orders) {
      this.states.delete(order.orderId);
      this.states.set(order.orderId, order.state);
    }
    for (const orderId of this.states.keys()) {
      if (this.states.size <= this.maxOrders) break;
      this.states.delete(orderId);
      this.dropped = true;
    }
  }
}
