import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { ORDER_STATUSES, orderStreamId } from '../../domain';
import type { PostgresEventStore } from '../../eventstore';
import { config } from '../../config';
import { assertCanSee, principalOf, requireOperator } from '../auth';
import { HttpProblem, notFound } from '../problem';
import type { OrdersGateway } from '../orders-gateway';
import { dailySales, decodeCursor, findOrderAtLeast, listOrders, toOrderView, topProducts } from '../read-models';
import { orderIdParam, orderView, problemResponses } from '../schemas';

const nullableCursor = { type: ['string', 'null'] } as const;

const LISTED_STATUSES = ORDER_STATUSES.filter((status) => status !== 'none');

const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

/** Queries: read models for orders and analytics, the event store for history, Temporal for live state. */
export function orderQueryRoutes(app: FastifyInstance, deps: { db: Knex; store: PostgresEventStore; orders: OrdersGateway }): void {
  const { db, store, orders } = deps;

  app.get<{ Params: { id: string }; Querystring: { minVersion?: number } }>(
    '/orders/:id',
    {
      schema: {
        tags: ['orders'],
        summary: 'An order from the read model. minVersion (or If-None-Match with a version) waits for read-your-writes.',
        params: orderIdParam,
        querystring: { type: 'object', additionalProperties: false, properties: { minVersion: { type: 'integer', minimum: 1 } } },
        response: { 200: orderView, ...problemResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const etagVersion = /^"?v(\d+)"?$/.exec(String(request.headers['if-none-match'] ?? ''))?.[1];
      const minVersion = request.query.minVersion ?? (etagVersion ? Number(etagVersion) : 0);
      const row = await findOrderAtLeast(db, request.params.id, minVersion, minVersion > 0 ? config().API_READ_YOUR_WRITES_WAIT_MS : 0);
      if (!row) throw notFound('Order');
      assertCanSee(principal, row.customer_id);
      const view = toOrderView(row);
      reply.header('etag', `"v${view.version}"`);
      if (minVersion > view.version) reply.header('x-read-model-stale', 'true');
      return view;
    },
  );

  app.get<{ Querystring: { customerId?: string; status?: string; limit?: number; cursor?: string } }>(
    '/orders',
    {
      schema: {
        tags: ['orders'],
        summary: 'Orders, newest first, with keyset pagination (pass nextCursor back as cursor).',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            customerId: { type: 'string', maxLength: 100 },
            status: { type: 'string', enum: LISTED_STATUSES },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            cursor: { type: 'string', maxLength: 500 },
          },
        },
        response: {
          200: { type: 'object', properties: { orders: { type: 'array', items: orderView }, nextCursor: nullableCursor } },
          ...problemResponses,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { status, limit = 20 } = request.query;
      let customerId = request.query.customerId;
      if (principal.role === 'customer') {
        if (customerId && customerId !== principal.customerId) throw new HttpProblem(403, 'Customers can only list their own orders.');
        customerId = principal.customerId ?? undefined;
      }
      const cursor = request.query.cursor !== undefined ? decodeCursor(request.query.cursor) : undefined;
      if (request.query.cursor !== undefined && !cursor) throw new HttpProblem(400, 'The cursor is not one this API issued.');
      return listOrders(db, { customerId, status, limit, cursor });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/orders/:id/events',
    {
      schema: { tags: ['orders'], summary: "The order's event stream, from the event store.", params: orderIdParam, response: problemResponses },
    },
    async (request) => {
      const principal = principalOf(request);
      const events = await store.readStream(orderStreamId(request.params.id));
      if (events.length === 0) throw notFound('Order');
      const created = events[0]?.data as { customerId?: string } | undefined;
      assertCanSee(principal, created?.customerId);
      return events.map((e) => ({
        eventId: e.eventId,
        type: e.type,
        version: e.streamVersion,
        schemaVersion: e.schemaVersion,
        data: e.data,
        metadata: e.metadata,
        recordedAt: e.recordedAt.toISOString(),
        globalPosition: e.globalPosition.toString(),
      }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/orders/:id/workflow',
    {
      schema: { tags: ['orders'], summary: 'Live state of the order workflow (Temporal queries).', params: orderIdParam, response: problemResponses },
    },
    async (request) => {
      const principal = principalOf(request);
      const orderId = request.params.id;
      if (principal.role !== 'operator') assertCanSee(principal, await orders.ownerOf(orderId));
      const [state, progress] = await Promise.all([orders.state(orderId), orders.progress(orderId)]);
      return { state, progress };
    },
  );

  app.get<{ Querystring: { from: string; to: string } }>(
    '/analytics/daily-sales',
    {
      schema: {
        tags: ['analytics'],
        summary: 'Orders placed, confirmed, cancelled, revenue and refunds per day and currency (operators).',
        querystring: { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: date, to: date } },
        response: problemResponses,
      },
    },
    async (request) => {
      requireOperator(request);
      const { from, to } = request.query;
      if (Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to))) throw new HttpProblem(400, 'from and to must be real dates.');
      if (from > to) throw new HttpProblem(400, 'from must not be after to.');
      return dailySales(db, from, to);
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/analytics/products/top',
    {
      schema: {
        tags: ['analytics'],
        summary: 'Best-selling products (operators).',
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 } } },
        response: problemResponses,
      },
    },
    async (request) => {
      requireOperator(request);
      return topProducts(db, request.query.limit ?? 10);
    },
  );
}
