import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertCanSee, principalOf, requireOperator } from '../auth';
import { HttpProblem } from '../problem';
import { MAX_REASON_LENGTH, checkReason, isDomainError } from '../../domain';
import type { OrdersGateway } from '../orders-gateway';
import { orderIdParam, orderSnapshot, problemResponses, sku } from '../schemas';

interface IdParams {
  id: string;
}

const idempotencyKey = (request: FastifyRequest): string | undefined => {
  const value = request.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new HttpProblem(400, 'Idempotency-Key must be 1 to 200 visible ASCII characters.');
  }
  return value;
};

/** A cancel reason as the workflow will record it (trimmed), checked by the domain's rule: else a 400 naming the field. */
function checkCancelReason(reason: string): void {
  try {
    checkReason(reason.trim());
  } catch (err) {
    if (isDomainError(err)) throw new HttpProblem(400, err.message, { code: err.code, field: 'reason' });
    throw err;
  }
}

/** Commands: every change to an order goes through its Temporal workflow. */
export function orderCommandRoutes(app: FastifyInstance, orders: OrdersGateway): void {
  /** Customers act on their own orders only; others' answer 404. */
  const ownOrder = async (request: FastifyRequest<{ Params: IdParams }>): Promise<string> => {
    const principal = principalOf(request);
    const orderId = request.params.id;
    assertCanSee(principal, principal.role === 'operator' ? null : await orders.ownerOf(orderId));
    return orderId;
  };

  app.post<{ Body: { customerId?: string; currency?: string } }>(
    '/orders',
    {
      schema: {
        tags: ['orders'],
        summary: 'Start an order (a draft). Idempotency-Key makes retries return the same order.',
        headers: { type: 'object', properties: { 'idempotency-key': { type: 'string' } } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            customerId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,100}$', description: 'Operators only; customers order for themselves.' },
            currency: { type: 'string', pattern: '^[A-Z]{3}$', default: 'USD' },
          },
        },
        response: { 200: orderSnapshot, 201: orderSnapshot, ...problemResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body ?? {};
      let customerId: string;
      if (principal.role === 'customer') {
        if (body.customerId && body.customerId !== principal.customerId) {
          throw new HttpProblem(403, 'Customers can only order for themselves.');
        }
        customerId = principal.customerId ?? '';
      } else {
        if (!body.customerId) throw new HttpProblem(400, 'Operators must name the customerId.');
        customerId = body.customerId;
      }
      const { created, snapshot } = await orders.start({
        customerId,
        currency: body.currency ?? 'USD',
        idempotencyKey: idempotencyKey(request),
        correlationId: request.id,
      });
      return reply
        .status(created ? 201 : 200)
        .header('location', `/orders/${snapshot.orderId}`)
        .send(snapshot);
    },
  );

  app.post<{ Params: IdParams; Body: { sku: string; quantity: number } }>(
    '/orders/:id/items',
    {
      schema: {
        tags: ['orders'],
        summary: 'Add units of a SKU to a draft (a Temporal update; rule violations answer 422).',
        params: orderIdParam,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['sku', 'quantity'],
          properties: { sku, quantity: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
        response: { 200: orderSnapshot, ...problemResponses },
      },
    },
    async (request) => {
      const orderId = await ownOrder(request);
      return orders.addItem(orderId, request.body, idempotencyKey(request));
    },
  );

  app.delete<{ Params: IdParams & { sku: string } }>(
    '/orders/:id/items/:sku',
    {
      schema: {
        tags: ['orders'],
        summary: 'Remove a SKU from a draft.',
        params: { ...orderIdParam, required: ['id', 'sku'], properties: { ...orderIdParam.properties, sku } },
        response: { 200: orderSnapshot, ...problemResponses },
      },
    },
    async (request) => {
      const orderId = await ownOrder(request);
      return orders.removeItem(orderId, request.params.sku, idempotencyKey(request));
    },
  );

  app.post<{ Params: IdParams }>(
    '/orders/:id/submit',
    {
      schema: {
        tags: ['orders'],
        summary: 'Submit a draft: the saga starts. Answers with the validated order.',
        params: orderIdParam,
        response: { 200: orderSnapshot, ...problemResponses },
      },
    },
    async (request) => {
      const orderId = await ownOrder(request);
      return orders.submit(orderId, idempotencyKey(request));
    },
  );

  app.post<{ Params: IdParams; Body: { reason?: string } | undefined }>(
    '/orders/:id/cancel',
    {
      schema: {
        tags: ['orders'],
        summary:
          'Cancel an order that has not shipped yet (a Temporal update): 202 once the workflow has taken the cancel ' +
          '(compensation follows), 409 with the current status when it can no longer be cancelled.',
        params: orderIdParam,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { reason: { type: 'string', minLength: 1, maxLength: MAX_REASON_LENGTH } },
        },
        response: {
          202: {
            type: 'object',
            required: ['orderId', 'accepted', 'status'],
            properties: { orderId: { type: 'string' }, accepted: { type: 'boolean' }, status: { type: 'string' } },
          },
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const orderId = await ownOrder(request);
      const reason = request.body?.reason;
      // The domain's rule for a reason, so that text Postgres could not store is a 400 naming the field.
      if (reason !== undefined) checkCancelReason(reason);
      const result = await orders.cancel(orderId, reason, idempotencyKey(request));
      if (!result.accepted) {
        throw new HttpProblem(409, result.detail, { code: 'CANNOT_CANCEL', orderStatus: result.status });
      }
      return reply.status(202).send({ orderId, accepted: true, status: result.status });
    },
  );

  app.post<{ Params: IdParams; Body: { deliveredAt?: string } | undefined }>(
    '/orders/:id/delivery',
    {
      schema: {
        tags: ['orders'],
        summary: "The carrier's delivery report (operators only; a signal).",
        params: orderIdParam,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: { deliveredAt: { type: 'string', format: 'date-time' } },
        },
        response: { 202: { type: 'object', properties: { orderId: { type: 'string' }, accepted: { type: 'boolean' } } }, ...problemResponses },
      },
    },
    async (request, reply) => {
      requireOperator(request);
      const deliveredAt = request.body?.deliveredAt ? new Date(request.body.deliveredAt).toISOString() : undefined;
      await orders.delivered(request.params.id, deliveredAt);
      return reply.status(202).send({ orderId: request.params.id, accepted: true });
    },
  );
}
