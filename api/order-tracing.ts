import type { FastifyRequest } from 'fastify';
import {
  ORDER_ID_ATTRIBUTE,
  ROOT_CONTEXT,
  SpanKind,
  contextFromHeaders,
  contextFromTraceparent,
  inSpan,
  linkTo,
  tracingActive,
  type Span,
} from '../infra/tracing';
import type { OrdersGateway } from './orders-gateway';

const spanName = (request: FastifyRequest): string => `${request.method} ${request.routeOptions.url ?? request.url}`;

const httpAttributes = (request: FastifyRequest) => ({
  'http.request.method': request.method,
  'http.route': request.routeOptions.url ?? request.url,
  'http.request.id': request.id,
});

/**
 * The span of a request that creates an order: the root of the order's trace. A caller's own trace
 * context (a traceparent header) is linked, not made the parent, so that the order's trace holds the
 * order and nothing of the caller's.
 */
export function newOrderSpan<T>(request: FastifyRequest, fn: (span: Span) => Promise<T>): Promise<T> {
  return inSpan(
    spanName(request),
    { kind: SpanKind.SERVER, parent: ROOT_CONTEXT, links: linkTo(contextFromHeaders(request.headers)), attributes: httpAttributes(request) },
    fn,
  );
}

/**
 * The span of a later request for an order (an update, a cancel, a delivery report): a child of the
 * order's root span, so that what it causes (the update's handler, the activities it runs) lands in the
 * order's trace, with a link to the caller's context. An order without a root (started with tracing
 * off) gets a span of the caller's trace, as any request would.
 */
export async function orderRequestSpan<T>(request: FastifyRequest, orders: OrdersGateway, orderId: string, fn: () => Promise<T>): Promise<T> {
  if (!tracingActive()) return fn();
  const root = contextFromTraceparent(await orders.traceRoot(orderId));
  const caller = contextFromHeaders(request.headers);
  return inSpan(
    spanName(request),
    {
      kind: SpanKind.SERVER,
      parent: root ?? caller ?? ROOT_CONTEXT,
      links: root ? linkTo(caller) : [],
      attributes: { ...httpAttributes(request), [ORDER_ID_ATTRIBUTE]: orderId },
    },
    fn,
  );
}
