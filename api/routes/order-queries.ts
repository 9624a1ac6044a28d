import type {} from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { z } from 'zod';
import { orderStreamId } from '../../domain';
import type { PostgresEventStore } from '../../eventstore';
import { config } from '../../config';
import { assertCanSee, principalOf, requireOperator } from '../auth';
import { HttpProblem } from '../problem';
import type { OrdersGateway } from '../orders-gateway';
import { dailySales, decodeCursor, findOrderAtLeast, listOrders, orderViewFromState, toOrderView, topProducts } from '../read-models';
import {
  AUTHENTICATED,
  DailySalesQuery,
  DailySalesSchema,
  GetOrderQuery,
  ListOrdersQuery,
  OrderEventSchema,
  OrderIdParams,
  OrderPageSchema,
  OrderViewSchema,
  TopProductsQuery,
  TopProductsSchema,
  WITH_PATH,
  WorkflowStateSchema,
  jsonSchemaOf,
  responses,
} from '../schemas';

/** Errors of every read of one order. */
const ORDER_READ = [...AUTHENTICATED, ...WITH_PATH, 404, 503] as const;

/** Queries: read models for orders and analytics, the event store for history, Temporal for live state. */
export function orderQueryRoutes(app: FastifyInstance, deps: { db: Knex; store: PostgresEventStore; orders: OrdersGateway }): void {
  const { db, store, orders } = deps;

  app.get<{ Params: { id: string }; Querystring: { minVersion?: number } }>(
    '/orders/:id',
    {
      schema: {
        operationId: 'getOrder',
        tags: ['orders'],
        summary: 'An order from the read model. minVersion (or If-None-Match with a version) waits for read-your-writes.',
        description:
          'An order the read model does not hold yet (just created) answers from the order workflow instead. ' +
          'X-Read-Model-Stale: true says the read model had not reached minVersion within the wait.',
        params: jsonSchemaOf(OrderIdParams),
        querystring: jsonSchemaOf(GetOrderQuery),
        response: responses({ 200: { schema: OrderViewSchema, description: 'The order.' } }, [...ORDER_READ, 400]),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const orderId = request.params.id;
      const etagVersion = /^"?v(\d{1,15})"?$/.exec(String(request.headers['if-none-match'] ?? ''))?.[1];
      const minVersion = request.query.minVersion ?? (etagVersion ? Number(etagVersion) : 0);
      const waitMs = config().API_READ_YOUR_WRITES_WAIT_MS;
      let row = await findOrderAtLeast(db, orderId, minVersion, minVersion > 0 ? waitMs : 0);
      if (!row) {
        // Not projected yet, or no such order: Temporal knows which (and the owner) at once.
        const owner = await orders.ownerOf(orderId);
        assertCanSee(principal, owner);
        row = await findOrderAtLeast(db, orderId, Math.max(minVersion, 1), waitMs);
        if (!row) {
          const state = await orders.state(orderId);
          // A workflow whose checkout was refused recorded no order: there is none to show.
          if (state.status === 'none') throw new HttpProblem(404, 'Order was not found.');
          const view = orderViewFromState(state);
          reply.header('etag', `"v${view.version}"`).header('x-read-model-stale', 'true');
          return view;
        }
      }
      assertCanSee(principal, row.customer_id);
      const view = toOrderView(row);
      reply.header('etag', `"v${view.version}"`);
      if (minVersion > view.version) reply.header('x-read-model-stale', 'true');
      return view;
    },
  );

  app.get<{ Querystring: z.output<typeof ListOrdersQuery> }>(
    '/orders',
    {
      schema: {
        operationId: 'listOrders',
        tags: ['orders'],
        summary: 'Orders, newest first, with keyset pagination (pass nextCursor back as cursor).',
        description: 'Customers see only their own orders; naming another customer answers 403.',
        querystring: jsonSchemaOf(ListOrdersQuery),
        response: responses({ 200: { schema: OrderPageSchema, description: 'A page of orders.' } }, [...AUTHENTICATED, 400, 403, 503]),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { status, limit } = request.query;
      let customerId = request.query.customerId;
      if (principal.role === 'customer') {
        if (customerId && customerId !== principal.customerId) throw new HttpProblem(403, 'Customers can only list their own orders.');
        customerId = principal.customerId ?? undefined;
      }
      const cursor = request.query.cursor !== undefined ? decodeCursor(request.query.cursor) : undefined;
      return listOrders(db, { customerId, status, limit, cursor });
    },
  );

  app.get<{ Params: { id: string } }>(
    '/orders/:id/events',
    {
      schema: {
        operationId: 'getOrderEvents',
        tags: ['orders'],
        summary: "The order's event stream, from the event store (empty until the workflow records its first event).",
        params: jsonSchemaOf(OrderIdParams),
        response: responses({ 200: { schema: z.array(OrderEventSchema), description: 'The events, oldest first.' } }, ORDER_READ),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const events = await store.readStream(orderStreamId(request.params.id));
      if (events.length === 0) {
        // Started but not recorded yet, or no such order: Temporal knows which.
        assertCanSee(principal, await orders.ownerOf(request.params.id));
        return [];
      }
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
      schema: {
        operationId: 'getOrderWorkflow',
        tags: ['orders'],
        summary: 'Live state of the order workflow (Temporal queries).',
        params: jsonSchemaOf(OrderIdParams),
        response: responses({ 200: { schema: WorkflowStateSchema, description: "The workflow's state and saga progress." } }, ORDER_READ),
      },
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
        operationId: 'dailySales',
        tags: ['analytics'],
        summary: 'Orders placed, confirmed, cancelled, revenue and refunds per day and currency (operators).',
        description: 'Days from `from` to `to`, both included; `from` after `to` is an empty range.',
        querystring: jsonSchemaOf(DailySalesQuery),
        response: responses({ 200: { schema: DailySalesSchema, description: 'One row per day and currency with sales.' } }, [...AUTHENTICATED, 400, 403, 503]),
      },
    },
    async (request) => {
      requireOperator(request);
      const { from, to } = request.query;
      return from > to ? [] : dailySales(db, from, to);
    },
  );

  app.get<{ Querystring: { limit: number } }>(
    '/analytics/products/top',
    {
      schema: {
        operationId: 'topProducts',
        tags: ['analytics'],
        summary: 'Best-selling products (operators).',
        querystring: jsonSchemaOf(TopProductsQuery),
        response: responses({ 200: { schema: TopProductsSchema, description: 'Products by units sold, most first.' } }, [...AUTHENTICATED, 400, 403, 503]),
      },
    },
    async (request) => {
      requireOperator(request);
      return topProducts(db, request.query.limit);
    },
  );
}
