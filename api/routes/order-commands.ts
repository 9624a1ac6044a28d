import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { assertCanSee, principalOf, requireOperator } from '../auth';
import { HttpProblem } from '../problem';
import type { OrdersGateway } from '../orders-gateway';
import type { IdempotencyKeys } from '../idempotency';
import { newOrderSpan, orderRequestSpan } from '../order-tracing';
import { ORDER_ID_ATTRIBUTE } from '../../infra/tracing';
import {
  AUTHENTICATED,
  AcceptedSchema,
  AddItemBody,
  CancelAcceptedSchema,
  CancelBody,
  CreateOrderBody,
  DeliveryBody,
  IdempotencyHeaders,
  OrderIdParams,
  OrderItemParams,
  OrderSnapshotSchema,
  WITH_BODY,
  WITH_PATH,
  jsonSchemaOf,
  responses,
} from '../schemas';

interface IdParams {
  id: string;
}

const snapshot = { schema: OrderSnapshotSchema, description: 'The order as it stands after the command.' };
const acceptedAnswer = { schema: AcceptedSchema, description: 'Taken; the order changes shortly.' };
/** Errors of every command on an existing order. */
const ORDER_COMMAND = [...AUTHENTICATED, ...WITH_PATH, ...WITH_BODY, 404, 409, 503] as const;

/** The key as the header schema let it through (1 to 200 visible ASCII characters), if any. */
/** From a new order to what can be done with it (schemathesis and client generators follow these). */
const link = (operationId: string) => ({ operationId, parameters: { id: '$response.body#/orderId' } });
const ORDER_LINKS = {
  getOrder: link('getOrder'),
  getOrderEvents: link('getOrderEvents'),
  getOrderWorkflow: link('getOrderWorkflow'),
  addItem: link('addItem'),
  submitOrder: link('submitOrder'),
  cancelOrder: link('cancelOrder'),
};

const idempotencyKey = (request: FastifyRequest): string | undefined => {
  const value = request.headers['idempotency-key'];
  return typeof value === 'string' ? value : undefined;
};

/** Commands: every change to an order goes through its Temporal workflow. */
export function orderCommandRoutes(app: FastifyInstance, orders: OrdersGateway, keys: IdempotencyKeys): void {
  /** Customers act on their own orders only; others' answer 404. */
  const ownOrder = async (request: FastifyRequest<{ Params: IdParams }>): Promise<string> => {
    const principal = principalOf(request);
    const orderId = request.params.id;
    assertCanSee(principal, principal.role === 'operator' ? null : await orders.ownerOf(orderId));
    return orderId;
  };

  /** An order update's key: remembered per order (Temporal dedupes update ids per workflow). */
  const updateKey = async (request: FastifyRequest, orderId: string): Promise<string | undefined> => {
    const key = idempotencyKey(request);
    if (key !== undefined) {
      await keys.claim({
        scope: 'order-update',
        subject: orderId,
        key,
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        request: { params: request.params, body: request.body ?? null },
      });
    }
    return key;
  };

  app.post<{ Body: { customerId?: string; currency: string; lines?: { sku: string; quantity: number }[]; submit?: boolean } | undefined }>(
    '/orders',
    {
      links: { 200: ORDER_LINKS, 201: ORDER_LINKS },
      schema: {
        operationId: 'createOrder',
        tags: ['orders'],
        summary:
          'Start an order (a draft), or check out in one call: with lines (and submit: true) the order is created, filled ' +
          '(and submitted) atomically, or refused with 422 leaving no order. Idempotency-Key makes retries return the same order.',
        headers: jsonSchemaOf(IdempotencyHeaders),
        body: jsonSchemaOf(CreateOrderBody),
        response: responses(
          {
            200: { ...snapshot, description: 'The order this Idempotency-Key already made (the same request again).' },
            201: { ...snapshot, description: 'The new order (a draft, or submitted by a checkout); Location names it.' },
          },
          [...AUTHENTICATED, ...WITH_BODY, 403, 409, 422, 503],
        ),
      },
    },
    (request, reply) => newOrderSpan(request, async (span) => {
      const principal = principalOf(request);
      const body = request.body ?? { currency: 'USD' };
      let customerId: string;
      if (principal.role === 'customer') {
        if (body.customerId && body.customerId !== principal.customerId) {
          throw new HttpProblem(403, 'Customers can only order for themselves.');
        }
        customerId = principal.customerId ?? '';
      } else {
        if (!body.customerId) throw new HttpProblem(422, 'Operators must name the customerId.', { code: 'CUSTOMER_REQUIRED' });
        customerId = body.customerId;
      }
      const currency = body.currency ?? 'USD';
      const key = idempotencyKey(request);
      // A checkout when lines (or a submit) come along; the domain refuses a submit without lines.
      const checkout = body.lines !== undefined || body.submit === true ? { lines: body.lines ?? [], submit: body.submit ?? false } : undefined;
      // The order id derives from (customer, key): the key is unique per customer, whoever sends it.
      // A plain start's fingerprint is what it was before checkouts existed, so stored keys still match.
      const firstUse =
        key === undefined ||
        (await keys.claim({ scope: 'order', subject: customerId, key, method: 'POST', route: '/orders', request: { customerId, currency, ...checkout } }));
      if (checkout) {
        const order = await orders.checkout({ customerId, currency, checkout, idempotencyKey: key, correlationId: request.id });
        // The first use of a key made the order; a repeat finds it (Temporal answered with the first answer).
        return reply
          .status(firstUse ? 201 : 200)
          .header('location', `/orders/${order.orderId}`)
          .send(order);
      }
      const { created, snapshot: order } = await orders.start({ customerId, currency, idempotencyKey: key, correlationId: request.id });
      span.setAttribute(ORDER_ID_ATTRIBUTE, order.orderId);
      return reply
        .status(created ? 201 : 200)
        .header('location', `/orders/${order.orderId}`)
        .send(order);
    }),
  );

  app.post<{ Params: IdParams; Body: { sku: string; quantity: number } }>(
    '/orders/:id/items',
    {
      schema: {
        operationId: 'addItem',
        tags: ['orders'],
        summary: 'Add units of a SKU to a draft (a Temporal update; rule violations answer 422).',
        params: jsonSchemaOf(OrderIdParams),
        headers: jsonSchemaOf(IdempotencyHeaders),
        body: jsonSchemaOf(AddItemBody),
        response: responses({ 200: snapshot }, [...ORDER_COMMAND, 422]),
      },
    },
    (request) =>
      orderRequestSpan(request, orders, request.params.id, async () => {
        const orderId = await ownOrder(request);
        return orders.addItem(orderId, request.body, await updateKey(request, orderId));
      }),
  );

  app.delete<{ Params: IdParams & { sku: string } }>(
    '/orders/:id/items/:sku',
    {
      schema: {
        operationId: 'removeItem',
        tags: ['orders'],
        summary: 'Remove a SKU from a draft.',
        params: jsonSchemaOf(OrderItemParams),
        headers: jsonSchemaOf(IdempotencyHeaders),
        response: responses({ 200: snapshot }, [...ORDER_COMMAND, 422]),
      },
    },
    (request) =>
      orderRequestSpan(request, orders, request.params.id, async () => {
        const orderId = await ownOrder(request);
        return orders.removeItem(orderId, request.params.sku, await updateKey(request, orderId));
      }),
  );

  app.post<{ Params: IdParams }>(
    '/orders/:id/submit',
    {
      schema: {
        operationId: 'submitOrder',
        tags: ['orders'],
        summary: 'Submit a draft: the saga starts. Answers with the validated order.',
        params: jsonSchemaOf(OrderIdParams),
        headers: jsonSchemaOf(IdempotencyHeaders),
        response: responses({ 200: snapshot }, [...ORDER_COMMAND, 422]),
      },
    },
    (request) =>
      orderRequestSpan(request, orders, request.params.id, async () => {
        const orderId = await ownOrder(request);
        return orders.submit(orderId, await updateKey(request, orderId));
      }),
  );

  app.post<{ Params: IdParams; Body: { reason?: string } | undefined }>(
    '/orders/:id/cancel',
    {
      schema: {
        operationId: 'cancelOrder',
        tags: ['orders'],
        summary:
          'Cancel an order that has not shipped yet (a Temporal update): 202 once the workflow has taken the cancel ' +
          '(compensation follows), 409 with the order\'s status (orderStatus) when it can no longer be cancelled.',
        params: jsonSchemaOf(OrderIdParams),
        body: jsonSchemaOf(CancelBody),
        response: responses({ 202: { schema: CancelAcceptedSchema, description: 'Taken: the order ends cancelled.' } }, ORDER_COMMAND),
      },
    },
    (request, reply) =>
      orderRequestSpan(request, orders, request.params.id, async () => {
        const orderId = await ownOrder(request);
        // The body schema is the domain's rule for a reason: text Postgres could not store is already a 400.
        const result = await orders.cancel(orderId, request.body?.reason, idempotencyKey(request));
        if (!result.accepted) {
          throw new HttpProblem(409, result.detail, { code: 'CANNOT_CANCEL', orderStatus: result.status });
        }
        return reply.status(202).send({ orderId, accepted: true, status: result.status });
      }),
  );

  app.post<{ Params: IdParams; Body: { deliveredAt?: string } | null | undefined }>(
    '/orders/:id/delivery',
    {
      schema: {
        operationId: 'reportDelivery',
        tags: ['orders'],
        summary: "The carrier's delivery report (operators only; a signal).",
        params: jsonSchemaOf(OrderIdParams),
        body: jsonSchemaOf(DeliveryBody),
        response: responses({ 202: acceptedAnswer }, [...ORDER_COMMAND, 403]),
      },
    },
    (request, reply) => {
      requireOperator(request);
      return orderRequestSpan(request, orders, request.params.id, async () => {
        // The schema admits only calendar-valid UTC times of years 0001-9999: Date takes every one of them.
        const deliveredAt = request.body?.deliveredAt ? new Date(request.body.deliveredAt).toISOString() : undefined;
        await orders.delivered(request.params.id, deliveredAt);
        return reply.status(202).send({ orderId: request.params.id, accepted: true });
      });
    },
  );
}
