import { decide, evolve, initialOrderState, orderStreamId, type OrderCommand, type OrderEvent, type OrderState } from '../../domain';
import { deterministicEventId, type PostgresEventStore } from '../../eventstore';

/**
 * Realistic Order histories for tests and benchmarks, decided by the domain's own rules (so every history
 * is one the saga could have written): the happy path, failures at each step with their compensations,
 * cancellations, lost parcels, abandoned drafts, and orders still under way.
 */
export type Scenario =
  | 'delivered'
  | 'awaiting_delivery'
  | 'out_of_stock'
  | 'payment_declined'
  | 'cancelled_after_payment'
  | 'lost_in_delivery'
  | 'draft_expired';

const WEIGHTS: readonly [Scenario, number][] = [
  ['delivered', 50],
  ['awaiting_delivery', 10],
  ['out_of_stock', 5],
  ['payment_declined', 12],
  ['cancelled_after_payment', 8],
  ['lost_in_delivery', 5],
  ['draft_expired', 10],
];

/** A small seeded generator (mulberry32), so a benchmark's data is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickScenario(random: () => number): Scenario {
  let roll = random() * WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
  for (const [scenario, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return scenario;
  }
  return 'delivered';
}

export interface SampleOrder {
  orderId: string;
  customerId: string;
  currency: string;
  /** SKUs to pick lines from. */
  skus: readonly string[];
  scenario: Scenario;
  /** When the order is created; later facts follow minutes to days after. */
  startsAt: Date;
  random: () => number;
}

type Step = (state: OrderState, now: string) => OrderCommand;

function stepsOf(order: SampleOrder): Step[] {
  const { orderId, customerId, currency, skus, random } = order;
  const lines = 1 + Math.floor(random() * Math.min(3, skus.length));
  const start = Math.floor(random() * skus.length);
  const adds: Step[] = Array.from({ length: lines }, (_, i) => () => ({
    type: 'AddItem',
    data: {
      sku: skus[(start + i) % skus.length]!,
      quantity: 1 + Math.floor(random() * 3),
      unitPrice: { amountMinor: 500 + (((start + i) % skus.length) * 137) % 5000, currency },
    },
  }));
  const total = (state: OrderState): { amountMinor: number; currency: string } => state.total ?? { amountMinor: 0, currency };
  const draft: Step[] = [(_, now) => ({ type: 'CreateOrder', data: { orderId, customerId, currency, now } }), ...adds];
  const submitted: Step[] = [...draft, (_, now) => ({ type: 'SubmitOrder', data: { now } })];
  const reserved: Step[] = [...submitted, () => ({ type: 'RecordInventoryReserved', data: { reservationId: `res-${orderId}` } })];
  const captured: Step[] = [
    ...reserved,
    (state) => ({ type: 'RecordPaymentCaptured', data: { paymentId: `pay-${orderId}`, amount: total(state) } }),
  ];
  const shipped: Step[] = [
    ...captured,
    () => ({ type: 'RecordShipmentCreated', data: { shipmentId: `ship-${orderId}`, carrier: 'UPS', trackingNumber: `1Z-${orderId}` } }),
  ];
  const confirmed: Step[] = [...shipped, (_, now) => ({ type: 'ConfirmOrder', data: { now } })];
  const release = (reason: string): Step => () => ({ type: 'RecordInventoryReleased', data: { reservationId: `res-${orderId}`, reason } });
  const refund = (reason: string): Step => (state) => ({
    type: 'RecordPaymentRefunded',
    data: { paymentId: `pay-${orderId}`, amount: total(state), reason },
  });
  switch (order.scenario) {
    case 'delivered':
      return [...confirmed, (_, now) => ({ type: 'MarkDelivered', data: { now } })];
    case 'awaiting_delivery':
      return confirmed;
    case 'out_of_stock':
      return [...submitted, (_, now) => ({ type: 'FailOrder', data: { reason: 'out_of_stock', failedStep: 'inventory', now } })];
    case 'payment_declined':
      return [
        ...reserved,
        (_, now) => ({ type: 'FailOrder', data: { reason: 'payment_declined', failedStep: 'payment', now } }),
        release('payment_declined'),
      ];
    case 'cancelled_after_payment':
      return [
        ...captured,
        (_, now) => ({ type: 'CancelOrder', data: { reason: 'customer_request', now } }),
        refund('customer_request'),
        release('customer_request'),
      ];
    case 'lost_in_delivery':
      return [
        ...confirmed,
        (_, now) => ({ type: 'FailOrder', data: { reason: 'delivery_timeout', failedStep: 'delivery', now } }),
        (state) => ({ type: 'RecordShipmentCancelled', data: { shipmentId: state.shipmentId ?? `ship-${orderId}`, reason: 'delivery_timeout' } }),
        refund('delivery_timeout'),
        release('delivery_timeout'),
      ];
    case 'draft_expired':
      return [...draft, (_, now) => ({ type: 'CancelOrder', data: { reason: 'draft_expired', now } })];
  }
}

/** The order's events, as decide produces them from the scenario's commands. */
export function sampleOrderHistory(order: SampleOrder): OrderEvent[] {
  let state = initialOrderState;
  let at = order.startsAt.getTime();
  const events: OrderEvent[] = [];
  for (const step of stepsOf(order)) {
    const now = new Date(at).toISOString();
    for (const event of decide(step(state, now), state)) {
      state = evolve(state, event);
      events.push(event);
    }
    // From a minute to about a day and a half between facts, so orders cross days.
    at += 60_000 + Math.floor(order.random() * 36 * 3_600_000);
  }
  return events;
}

/**
 * Appends some of an order's events the way the order workflow does (ids from the stream position, the
 * exact expected version); returns the stream version reached.
 */
export async function appendOrderEvents(
  store: PostgresEventStore,
  orderId: string,
  events: readonly OrderEvent[],
  fromVersion: number,
): Promise<number> {
  const streamId = orderStreamId(orderId);
  const result = await store.append(
    streamId,
    events.map((event, i) => ({ eventId: deterministicEventId(streamId, fromVersion + i + 1), type: event.type, data: event.data })),
    { expectedVersion: fromVersion === 0 ? 'no_stream' : fromVersion },
  );
  return result.nextExpectedVersion;
}
