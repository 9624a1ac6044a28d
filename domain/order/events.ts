import { z } from 'zod';
import { EventRegistry, defineEvent, type EventDefinition } from '../../eventstore/registry';
import { InvalidEventError, UnknownEventTypeError } from '../../eventstore/errors';
import { MoneySchema } from '../money';
import {
  OrderIdSchema,
  QuantitySchema,
  ReasonSchema,
  ReferenceSchema,
  SkuSchema,
  TimestampSchema,
} from './fields';
import { COMPENSABLE_STEPS, FAILED_STEPS } from './steps';

/*
 * The Order's events: the only facts ever stored about an order. A stored event is never rewritten, so a
 * payload change that old readers or old events cannot take needs a new schemaVersion and an upcaster.
 */

export const ORDER_STREAM_TYPE = 'Order';
const STREAM_PREFIX = `${ORDER_STREAM_TYPE}-`;

export function orderStreamId(orderId: string): string {
  return STREAM_PREFIX + orderId;
}

export function orderIdFromStreamId(streamId: string): string | undefined {
  return streamId.startsWith(STREAM_PREFIX) ? streamId.slice(STREAM_PREFIX.length) : undefined;
}

const OrderLineSchema = z.object({ sku: SkuSchema, quantity: QuantitySchema, unitPrice: MoneySchema });
const ReservedItemSchema = z.object({ sku: SkuSchema, quantity: QuantitySchema });

const OrderCreated = defineEvent({
  type: 'OrderCreated',
  schemaVersion: 2,
  schema: z.object({
    orderId: OrderIdSchema,
    customerId: ReferenceSchema,
    currency: MoneySchema.shape.currency,
    createdAt: TimestampSchema,
  }),
  // v1 was written while the shop sold in US dollars only, so USD is what those orders were priced in.
  upcasters: { 1: (v1) => ({ ...v1, currency: 'USD' }) },
});

const OrderItemAdded = defineEvent({
  type: 'OrderItemAdded',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, sku: SkuSchema, quantity: QuantitySchema, unitPrice: MoneySchema }),
});

const OrderItemRemoved = defineEvent({
  type: 'OrderItemRemoved',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, sku: SkuSchema }),
});

const OrderSubmitted = defineEvent({
  type: 'OrderSubmitted',
  schemaVersion: 1,
  schema: z.object({
    orderId: OrderIdSchema,
    total: MoneySchema,
    items: z.array(OrderLineSchema).min(1),
    submittedAt: TimestampSchema,
  }),
});

const InventoryReserved = defineEvent({
  type: 'InventoryReserved',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, reservationId: ReferenceSchema, items: z.array(ReservedItemSchema).min(1) }),
});

const InventoryReleased = defineEvent({
  type: 'InventoryReleased',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, reservationId: ReferenceSchema, reason: ReasonSchema }),
});

const PaymentCaptured = defineEvent({
  type: 'PaymentCaptured',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, paymentId: ReferenceSchema, amount: MoneySchema }),
});

const PaymentRefunded = defineEvent({
  type: 'PaymentRefunded',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, paymentId: ReferenceSchema, amount: MoneySchema, reason: ReasonSchema }),
});

const ShipmentCreated = defineEvent({
  type: 'ShipmentCreated',
  schemaVersion: 1,
  schema: z.object({
    orderId: OrderIdSchema,
    shipmentId: ReferenceSchema,
    carrier: ReferenceSchema,
    trackingNumber: ReferenceSchema,
  }),
});

const ShipmentCancelled = defineEvent({
  type: 'ShipmentCancelled',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, shipmentId: ReferenceSchema, reason: ReasonSchema }),
});

const OrderConfirmed = defineEvent({
  type: 'OrderConfirmed',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, confirmedAt: TimestampSchema }),
});

const OrderDelivered = defineEvent({
  type: 'OrderDelivered',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, deliveredAt: TimestampSchema }),
});

const OrderCancelled = defineEvent({
  type: 'OrderCancelled',
  schemaVersion: 1,
  schema: z.object({ orderId: OrderIdSchema, reason: ReasonSchema, cancelledAt: TimestampSchema }),
});

const OrderFailed = defineEvent({
  type: 'OrderFailed',
  schemaVersion: 1,
  schema: z.object({
    orderId: OrderIdSchema,
    reason: ReasonSchema,
    failedStep: z.enum(FAILED_STEPS),
    failedAt: TimestampSchema,
  }),
});

/** An undo of a saga step could not be done (e.g. the goods were already delivered): an operator settles it. */
const CompensationFailed = defineEvent({
  type: 'CompensationFailed',
  schemaVersion: 1,
  schema: z.object({
    orderId: OrderIdSchema,
    step: z.enum(COMPENSABLE_STEPS),
    reason: ReasonSchema,
    failedAt: TimestampSchema,
  }),
});

/** Register these with the event store's EventRegistry. */
export const ORDER_EVENT_DEFINITIONS = [
  OrderCreated,
  OrderItemAdded,
  OrderItemRemoved,
  OrderSubmitted,
  InventoryReserved,
  InventoryReleased,
  PaymentCaptured,
  PaymentRefunded,
  ShipmentCreated,
  ShipmentCancelled,
  OrderConfirmed,
  OrderDelivered,
  OrderCancelled,
  OrderFailed,
  CompensationFailed,
] as const;

/** The registry of the order's event types: what every event store of the system reads and writes with. */
export const orderRegistry = (): EventRegistry => new EventRegistry(ORDER_EVENT_DEFINITIONS);

type EventOf<Definition> =
  Definition extends EventDefinition<infer Type, infer Schema extends z.ZodType>
    ? { type: Type; data: z.output<Schema> }
    : never;

export type OrderEvent = EventOf<(typeof ORDER_EVENT_DEFINITIONS)[number]>;
export type OrderEventType = OrderEvent['type'];
export type OrderEventOf<Type extends OrderEventType> = Extract<OrderEvent, { type: Type }>;
export type OrderEventData<Type extends OrderEventType> = OrderEventOf<Type>['data'];

/** Why an order is cancelled when its draft was left unsubmitted too long. */
export const DRAFT_EXPIRED_REASON = 'draft_expired';

const DEFINITIONS_BY_TYPE: ReadonlyMap<string, EventDefinition> = new Map(
  ORDER_EVENT_DEFINITIONS.map((definition) => [definition.type, definition]),
);

export function isOrderEventType(type: string): type is OrderEventType {
  return DEFINITIONS_BY_TYPE.has(type);
}

/**
 * Turns an event read from the store (already upcast to the current schema version) into a typed
 * OrderEvent, checking its payload so that a bad stored event fails here rather than deep in evolve.
 */
export function toOrderEvent(event: { type: string; data: unknown }): OrderEvent {
  const definition = DEFINITIONS_BY_TYPE.get(event.type);
  if (!definition) throw new UnknownEventTypeError(event.type);
  const parsed = definition.schema.safeParse(event.data);
  if (!parsed.success) {
    throw new InvalidEventError(`Stored ${event.type} does not match its current schema: ${parsed.error.message}`);
  }
  // The definition found by type validated the payload, so the pair is that member of the union.
  return { type: event.type, data: parsed.data } as OrderEvent;
}
