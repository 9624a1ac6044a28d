import type { Money } from '../money';
import type { OrderEvent, OrderEventData } from './events';
import { findLine, linesTotal, type OrderLine, type OrderLines } from './lines';
import type { CompensableStep, FailedStep } from './steps';

/** Every status an order can be in ('none' is the state before the order exists); the type derives from it. */
export const ORDER_STATUSES = [
  'none',
  'draft',
  'submitted',
  'inventory_reserved',
  'payment_captured',
  'shipment_created',
  'confirmed',
  'delivered',
  'compensating',
  'cancelled',
  'failed',
  'compensation_failed',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Statuses after which nothing more happens to the order, apart from finishing compensations.
 * compensation_failed: an undo could not be done; an operator must settle it (see the README).
 */
export const TERMINAL_STATUSES: readonly OrderStatus[] = ['delivered', 'cancelled', 'failed', 'compensation_failed'];

// compensating: undone steps recorded before the outcome; nothing was handed to the carrier either.
const CANCELLABLE = ['draft', 'submitted', 'inventory_reserved', 'payment_captured', 'compensating'] as const satisfies readonly OrderStatus[];
export type CancellableStatus = (typeof CANCELLABLE)[number];
/** Statuses in which a cancel still cancels: nothing has been handed to the carrier yet. */
export const CANCELLABLE_STATUSES: readonly OrderStatus[] = CANCELLABLE;

/** Statuses of an order that is being, or has been, unwound. */
export const UNWINDING_STATUSES: readonly OrderStatus[] = ['compensating', 'cancelled', 'failed', 'compensation_failed'];

/**
 * What the decisions need to know about an order, rebuilt from its events. It stays plain JSON so that a
 * workflow can hold it and return it from a query.
 */
export interface OrderState {
  readonly orderId: string | null;
  readonly status: OrderStatus;
  readonly customerId: string | null;
  readonly currency: string | null;
  /** By SKU; read it with findLine, which is safe for any SKU. */
  readonly items: OrderLines;
  /** Null until the order exists. */
  readonly total: Money | null;
  /** References held in other systems; cleared when that step is compensated. */
  readonly reservationId: string | null;
  readonly paymentId: string | null;
  readonly shipmentId: string | null;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly compensated: Readonly<Record<CompensableStep, boolean>>;
  /** Steps whose undo could not be done (CompensationFailed) and that still hold something. */
  readonly unsettled: readonly CompensableStep[];
  readonly createdAt: string | null;
  readonly submittedAt: string | null;
  readonly confirmedAt: string | null;
  readonly deliveredAt: string | null;
  readonly cancelledAt: string | null;
  readonly cancellationReason: string | null;
  readonly failedAt: string | null;
  readonly failure: { readonly reason: string; readonly step: FailedStep } | null;
  /** How many events built this state: the stream version to expect on the next append. */
  readonly version: number;
}

export const initialOrderState: OrderState = {
  orderId: null,
  status: 'none',
  customerId: null,
  currency: null,
  items: {},
  total: null,
  reservationId: null,
  paymentId: null,
  shipmentId: null,
  carrier: null,
  trackingNumber: null,
  compensated: { inventory: false, payment: false, shipment: false },
  unsettled: [],
  createdAt: null,
  submittedAt: null,
  confirmedAt: null,
  deliveredAt: null,
  cancelledAt: null,
  cancellationReason: null,
  failedAt: null,
  failure: null,
  version: 0,
};

/** Applies one event. Events are facts, so evolve does not judge them: rules live in decide. */
export function evolve(state: OrderState, event: OrderEvent): OrderState {
  return { ...apply(state, event), version: state.version + 1 };
}

export function orderStateFrom(events: Iterable<OrderEvent>): OrderState {
  let state = initialOrderState;
  for (const event of events) state = evolve(state, event);
  return state;
}

function apply(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case 'OrderCreated': {
      const { orderId, customerId, currency, createdAt } = event.data;
      const total = linesTotal(currency, state.items);
      return { ...state, status: 'draft', orderId, customerId, currency, createdAt, total };
    }
    case 'OrderItemAdded':
      return withItemAdded(state, event.data);
    case 'OrderItemRemoved':
      return withItems(state, withoutKey(state.items, event.data.sku));
    case 'OrderSubmitted': {
      // The submitted list is the order as the customer committed to it, so it replaces what drafting built.
      const items = Object.fromEntries(event.data.items.map((line) => [line.sku, line]));
      return { ...state, status: 'submitted', items, total: event.data.total, submittedAt: event.data.submittedAt };
    }
    case 'InventoryReserved':
      return { ...state, status: 'inventory_reserved', reservationId: event.data.reservationId };
    case 'PaymentCaptured':
      return { ...state, status: 'payment_captured', paymentId: event.data.paymentId };
    case 'ShipmentCreated': {
      const { shipmentId, carrier, trackingNumber } = event.data;
      return { ...state, status: 'shipment_created', shipmentId, carrier, trackingNumber };
    }
    case 'InventoryReleased':
      return { ...compensate(state, 'inventory'), reservationId: null };
    case 'PaymentRefunded':
      return { ...compensate(state, 'payment'), paymentId: null };
    case 'ShipmentCancelled':
      return { ...compensate(state, 'shipment'), shipmentId: null, carrier: null, trackingNumber: null };
    case 'OrderConfirmed':
      return { ...state, status: 'confirmed', confirmedAt: event.data.confirmedAt };
    case 'OrderDelivered':
      return { ...state, status: 'delivered', deliveredAt: event.data.deliveredAt };
    case 'OrderCancelled':
      return { ...state, status: 'cancelled', cancellationReason: event.data.reason, cancelledAt: event.data.cancelledAt };
    case 'OrderFailed': {
      const { reason, failedStep, failedAt } = event.data;
      return { ...state, status: 'failed', failure: { reason, step: failedStep }, failedAt };
    }
    case 'CompensationFailed': {
      // The step stays held (its reference is kept): that is what the operator has to settle.
      const { step, reason } = event.data;
      return {
        ...state,
        status: 'compensation_failed',
        unsettled: [...state.unsettled.filter((s) => s !== step), step],
        failure: { reason: `${step}: ${reason}`, step: 'compensation' },
      };
    }
    default:
      return assertNever(event);
  }
}

function withItemAdded(state: OrderState, data: OrderEventData<'OrderItemAdded'>): OrderState {
  const existing = findLine(state.items, data.sku);
  const line: OrderLine = {
    sku: data.sku,
    quantity: (existing?.quantity ?? 0) + data.quantity,
    unitPrice: data.unitPrice,
  };
  return withItems(state, { ...state.items, [data.sku]: line });
}

function withItems(state: OrderState, items: OrderLines): OrderState {
  const currency = state.currency ?? Object.values(items)[0]?.unitPrice.currency;
  return { ...state, items, total: currency === undefined ? null : linesTotal(currency, items) };
}

function withoutKey(lines: OrderLines, sku: string): OrderLines {
  return Object.fromEntries(Object.entries(lines).filter(([key]) => key !== sku));
}

// Undoing a step while the saga was moving forward means it is now unwinding; once the order is cancelled
// or failed (or an undo could not be done), a late compensation only finishes the clean-up and leaves
// that outcome as it is.
function compensate(state: OrderState, step: CompensableStep): OrderState {
  const ended = state.status === 'cancelled' || state.status === 'failed' || state.status === 'compensation_failed';
  return {
    ...state,
    status: ended ? state.status : 'compensating',
    compensated: { ...state.compensated, [step]: true },
    unsettled: state.unsettled.filter((s) => s !== step),
  };
}

function assertNever(event: never): never {
  throw new Error(`Unhandled order event ${JSON.stringify(event)}`);
}
