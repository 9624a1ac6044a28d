/**
 * Every request and response shape of the API, as zod schemas built from the domain's own rules
 * (fields, limits, statuses). Routes take their JSON Schemas from here (api/json-schema.ts): Fastify
 * validates with them and /openapi.json publishes them, so the API, its document and the domain cannot
 * disagree about a limit.
 */
import { z } from 'zod';
import { COMPENSABLE_STEPS, SAGA_STEPS, MAX_QUANTITY_PER_SKU, ORDER_STATUSES } from '../domain';
import { MoneySchema } from '../domain/money';
import { ORDER_ID_PATTERN, OrderIdSchema, ReasonSchema, ReferenceSchema, SkuSchema, TimestampSchema } from '../domain/order/fields';
import { jsonSchemaOf, type JsonSchema } from './json-schema';

/* ---------- Fields ---------- */

/** Year 0 exists in ISO 8601 and JavaScript, not in PostgreSQL: a date or time the read models could never store. */
const NOT_YEAR_ZERO = /^(?:[1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9])-/;

/** A calendar day (2026-02-30 is refused), as the analytics read models store it. */
export const DaySchema = z.iso.date().regex(NOT_YEAR_ZERO).describe('A calendar date, YYYY-MM-DD (years 0001-9999).');

/** The domain's UTC timestamp, within the years PostgreSQL stores. */
export const ApiTimestampSchema = TimestampSchema.regex(NOT_YEAR_ZERO);

export const CurrencySchema = MoneySchema.shape.currency;

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,200}$/)
  .describe(
    'Makes a retry safe: the same key with the same request answers as the first did; the same key with a different request answers 422.',
  );

/** Statuses an existing order can have ('none' is only the state before the first event). */
export const EXISTING_ORDER_STATUSES = ORDER_STATUSES.filter((status) => status !== 'none');
const ExistingStatusSchema = z.enum(EXISTING_ORDER_STATUSES as [string, ...string[]]);

/* ---------- Requests ---------- */

export const OrderIdParams = z.object({ id: OrderIdSchema.describe('The order id.') });
export const OrderItemParams = z.object({ id: OrderIdSchema.describe('The order id.'), sku: SkuSchema });

export const IdempotencyHeaders = z.object({ 'idempotency-key': IdempotencyKeySchema.optional() });

export const AddItemBody = z.strictObject({
  sku: SkuSchema,
  quantity: z.number().int().min(1).max(MAX_QUANTITY_PER_SKU),
});

/** A checkout names at most this many lines: a bound on the request, not a rule of the order. */
export const MAX_CHECKOUT_LINES = 100;

export const CreateOrderBody = z.strictObject({
  customerId: ReferenceSchema.optional().describe(
    'Whose order it is. Operators must name it (422 otherwise); customers may leave it out or name themselves (403 for anyone else).',
  ),
  currency: CurrencySchema.default('USD'),
  lines: z
    .array(AddItemBody)
    .min(1)
    .max(MAX_CHECKOUT_LINES)
    .optional()
    .describe('Checkout in one call: the order is created with these lines (each like POST /orders/{id}/items), atomically; a refused line leaves no order.'),
  submit: z.boolean().optional().describe('With lines: submit the order in the same call (the saga starts). Default false.'),
});

export const CancelBody = z.strictObject({ reason: ReasonSchema.optional() }).nullable();

export const DeliveryBody = z.strictObject({ deliveredAt: ApiTimestampSchema.optional() }).nullable();

export const GetOrderQuery = z.strictObject({ minVersion: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() });

/**
 * A position in the newest-first listing: the creation time in ms since the epoch and the order id,
 * joined by '~'. Pass back nextCursor; any cursor of this form is a valid position.
 */
export const CURSOR_PATTERN = new RegExp(`^(\\d{1,15})~(${ORDER_ID_PATTERN.source.slice(1, -1)})$`);
export const CursorSchema = z.string().regex(CURSOR_PATTERN).describe("nextCursor of the previous page: '<ms since epoch>~<order id>'.");

export const ListOrdersQuery = z.strictObject({
  customerId: ReferenceSchema.optional(),
  status: ExistingStatusSchema.optional(),
  limit: z.number().int().min(1).max(100).default(20),
  cursor: CursorSchema.optional(),
});

export const DailySalesQuery = z.strictObject({ from: DaySchema, to: DaySchema });

export const TopProductsQuery = z.strictObject({ limit: z.number().int().min(1).max(100).default(10) });

/* ---------- Responses ---------- */

const Nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
const IsoString = z.string().describe('UTC ISO 8601 date-time');

const OrderLineSchema = z.object({ sku: SkuSchema, quantity: z.number().int().min(1), unitPrice: MoneySchema });

/** What every command answers with: the order and its stream version, for read-your-writes. */
export const OrderSnapshotSchema = z.object({
  orderId: z.string(),
  status: z.enum(ORDER_STATUSES),
  version: z.number().int().min(0).describe('The order stream version; pass it as minVersion to GET /orders/{id}.'),
  total: Nullable(MoneySchema),
  items: z.array(OrderLineSchema),
});

/** An order as the read model holds it. */
export const OrderViewSchema = z.object({
  orderId: z.string(),
  customerId: Nullable(z.string()),
  status: ExistingStatusSchema,
  version: z.number().int().min(0),
  items: z.array(OrderLineSchema),
  total: Nullable(MoneySchema),
  paymentId: Nullable(z.string()),
  shipmentId: Nullable(z.string()),
  carrier: Nullable(z.string()),
  trackingNumber: Nullable(z.string()),
  failure: Nullable(z.object({ reason: z.string(), step: Nullable(z.string()) })),
  cancellationReason: Nullable(z.string()),
  unsettledSteps: z
    .array(z.enum(COMPENSABLE_STEPS))
    .describe('Steps whose undo could not be done (status compensation_failed): an operator must settle them (see the README).'),
  createdAt: Nullable(IsoString),
  submittedAt: Nullable(IsoString),
  confirmedAt: Nullable(IsoString),
  deliveredAt: Nullable(IsoString),
  cancelledAt: Nullable(IsoString),
  failedAt: Nullable(IsoString),
  updatedAt: IsoString,
});

export const OrderPageSchema = z.object({
  orders: z.array(OrderViewSchema),
  nextCursor: Nullable(CursorSchema),
});

export const AcceptedSchema = z.object({ orderId: z.string(), accepted: z.boolean() });

/** A cancel the workflow took, and the status the order had when it took it. */
export const CancelAcceptedSchema = AcceptedSchema.extend({ status: z.enum(ORDER_STATUSES) });

export const OrderEventSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  version: z.number().int().min(1),
  schemaVersion: z.number().int().min(1),
  data: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: IsoString,
  globalPosition: z.string().regex(/^\d+$/).describe('Position in the whole event store (a 64-bit integer, as a string).'),
});

/** The workflow's own state (Temporal queries); more fields may appear. */
export const WorkflowStateSchema = z.object({
  state: z.looseObject({
    orderId: Nullable(z.string()),
    status: z.enum(ORDER_STATUSES),
    customerId: Nullable(z.string()),
    currency: Nullable(z.string()),
    items: z.record(z.string(), OrderLineSchema),
    total: Nullable(MoneySchema),
    version: z.number().int().min(0),
  }),
  progress: z.object({
    done: z.array(z.enum(SAGA_STEPS)),
    compensated: z.array(z.enum(COMPENSABLE_STEPS)),
    pending: z.array(z.enum(SAGA_STEPS)),
    awaitingCompensation: z.array(z.enum(COMPENSABLE_STEPS)),
    unsettled: z.array(z.enum(COMPENSABLE_STEPS)),
  }),
});

export const DailySalesSchema = z.array(
  z.object({
    day: z.string(),
    currency: z.string(),
    ordersPlaced: z.number().int(),
    ordersConfirmed: z.number().int(),
    ordersCancelled: z.number().int(),
    revenueMinor: z.number().int(),
    refundsMinor: z.number().int(),
  }),
);

export const TopProductsSchema = z.array(
  z.object({ sku: z.string(), currency: z.string(), unitsSold: z.number().int(), revenueMinor: z.number().int(), unitsReleased: z.number().int() }),
);

export const LiveSchema = z.object({ status: z.literal('ok') });
export const ReadySchema = z.object({
  status: z.literal('ready'),
  checks: z.record(z.string(), z.object({ status: z.literal('up') })),
});

/** RFC 9457 problem details: the body of every error. */
export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
  instance: z.string().optional(),
  code: z.string().optional().describe("The domain's stable error code (422 and 409 answers)."),
  orderStatus: z.enum(ORDER_STATUSES).optional().describe("The order's status, when it refused a command (409)."),
});

/* ---------- Route schema assembly ---------- */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'The request breaks the schema (body, parameters, headers, malformed JSON or URL).',
  401: 'No API key, or an unknown or revoked one.',
  403: 'The key may not do this.',
  404: 'No such order (or not one of the customer’s own).',
  409: 'The order is not in a state that takes this change.',
  413: 'The body is larger than the API accepts.',
  414: 'A path segment is longer than the API accepts.',
  415: 'The body is not application/json.',
  422: 'A well-formed request that breaks a business rule, or an Idempotency-Key reused for a different request.',
  429: 'Too many requests for this key: wait as Retry-After says.',
  431: 'The request headers are larger than the API accepts.',
  503: 'A dependency (Temporal, the database) is unavailable: retry after Retry-After seconds.',
};

const problemJson = jsonSchemaOf(ProblemSchema, 'output');

export function problemResponse(status: number, description = ERROR_DESCRIPTIONS[status] ?? 'Error'): JsonSchema {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: problemJson } } };
}

export interface Success {
  schema: z.ZodType;
  description: string;
  /** application/json unless said. */
  contentType?: string;
}

/** A route's responses: its successes and every error status it can answer, errors as problem+json. */
export function responses(successes: Record<number, Success>, errors: readonly number[]): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [status, success] of Object.entries(successes)) {
    out[status] = { description: success.description, content: { [success.contentType ?? 'application/json']: { schema: jsonSchemaOf(success.schema, 'output') } } };
  }
  for (const status of errors) out[String(status)] = problemResponse(status);
  return out;
}

/** Errors any request can meet: headers too large, and (for routes behind a key) auth, rate limit. */
export const ALWAYS = [431] as const;
export const AUTHENTICATED = [401, 429, 431] as const;
/** Routes with path parameters: a malformed (400) or overlong (414) segment. */
export const WITH_PATH = [400, 414] as const;
/** Routes that read a body: its size and media type. */
export const WITH_BODY = [400, 413, 415] as const;

export { jsonSchemaOf };

/** The public endpoints' documentation (infra/observability.ts serves them). */
export const observabilitySchemas = {
  live: { operationId: 'live', summary: 'Liveness: the process serves requests.', response: responses({ 200: { schema: LiveSchema, description: 'Alive.' } }, ALWAYS) },
  ready: {
    operationId: 'ready',
    summary: 'Readiness: every dependency answers (503 problem+json naming those down, with every check).',
    response: responses({ 200: { schema: ReadySchema, description: 'Ready.' } }, [...ALWAYS, 503]),
  },
  metrics: {
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format).',
    response: responses({ 200: { schema: z.string(), description: 'Metrics.', contentType: 'text/plain' } }, ALWAYS),
  },
};
