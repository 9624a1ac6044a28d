/** JSON schemas of the API: they validate requests and document them in /openapi.json. */

export const orderIdParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,100}$' } },
} as const;

export const money = {
  type: 'object',
  properties: { amountMinor: { type: 'integer' }, currency: { type: 'string' } },
} as const;

export const orderItem = {
  type: 'object',
  properties: { sku: { type: 'string' }, quantity: { type: 'integer' }, unitPrice: money },
} as const;

/** What every command answers with: the order and its stream version, for read-your-writes. */
export const orderSnapshot = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    status: { type: 'string' },
    version: { type: 'integer', description: 'The order stream version; pass it as minVersion to GET /orders/{id}.' },
    total: { anyOf: [money, { type: 'null' }] },
    items: { type: 'array', items: orderItem },
  },
} as const;

export const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    field: { type: 'string', description: 'The request field at fault (400).' },
    orderStatus: { type: 'string', description: "The order's status, when it refused a command (409)." },
  },
  // Problems carry extension members (RFC 9457), e.g. a rule's details.
  additionalProperties: true,
} as const;

export const problemResponses = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  413: problemSchema,
  422: problemSchema,
  429: problemSchema,
  503: problemSchema,
} as const;

export const sku = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } as const;

const nullableString = { type: ['string', 'null'] } as const;

/** An order as the read model holds it. */
export const orderView = {
  type: 'object',
  properties: {
    orderId: { type: 'string' },
    customerId: nullableString,
    status: { type: 'string' },
    version: { type: 'integer' },
    items: { type: 'array', items: orderItem },
    total: { anyOf: [money, { type: 'null' }] },
    paymentId: nullableString,
    shipmentId: nullableString,
    carrier: nullableString,
    trackingNumber: nullableString,
    failure: { anyOf: [{ type: 'object', properties: { reason: { type: 'string' }, step: nullableString } }, { type: 'null' }] },
    cancellationReason: nullableString,
    unsettledSteps: { type: 'array', items: { type: 'string' }, description: 'Steps whose undo could not be done (status compensation_failed).' },
    createdAt: nullableString,
    submittedAt: nullableString,
    confirmedAt: nullableString,
    deliveredAt: nullableString,
    cancelledAt: nullableString,
    failedAt: nullableString,
    updatedAt: { type: 'string' },
  },
} as const;
