import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import { config } from '../config';
import type { PostgresEventStore } from '../eventstore';
import { authenticate } from './auth';
import { mapError } from './errors';
import { sendProblem } from './problem';
import { IdempotencyKeys } from './idempotency';
import { RouteMethods, clientErrorHandler, frameworkErrors, notFoundOrNotAllowed } from './http-errors';
import { installValidators, type CompiledSchemas } from './validation';
import { observabilitySchemas } from './schemas';
import { OrdersGateway } from './orders-gateway';
import { observabilityRoutes, type ReadinessChecks } from '../infra/observability';
import { orderCommandRoutes } from './routes/order-commands';
import { orderQueryRoutes } from './routes/order-queries';

declare module 'fastify' {
  interface FastifyInstance {
    /** What each route's validators were compiled from (the contract test compares it with /openapi.json). */
    validatedSchemas: CompiledSchemas;
  }
}

export interface ApiDependencies {
  db: Knex;
  temporal: Client;
  store: PostgresEventStore;
  readiness: ReadinessChecks;
  /** Pino options, or false to log nothing (benchmarks). */
  logger?: boolean | { level: string };
}

/** Builds the HTTP API: commands through Temporal, queries from the read models. */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const env = config();
  const routes = new RouteMethods();
  const app = Fastify({
    logger: deps.logger ?? { level: env.LOG_LEVEL },
    bodyLimit: env.API_BODY_LIMIT_BYTES,
    // A caller's request id is kept (and becomes the correlation id of what the request causes).
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    // Order ids are up to 128 characters: longer segments are refused by the schema (400) up to this, then 414.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors,
    clientErrorHandler: clientErrorHandler(routes),
  });
  routes.track(app);
  app.decorate('validatedSchemas', installValidators(app));

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema, the dialect the routes validate with (api/schemas.ts).
      openapi: '3.1.0',
      info: {
        title: 'Orders-on-Temporal API',
        version: '1.0.0',
        description:
          'Orders driven through Temporal; reads from projections. Every error is RFC 9457 application/problem+json. ' +
          'Request bodies are typed JSON and never coerced ("2" is not a number); query parameters are text and are read as their documented type.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { config: { public: true, rateLimit: false }, schema: { hide: true } }, async () => app.swagger());

  app.addHook('onRequest', authenticate(deps.db));
  await app.register(rateLimit, {
    hook: 'preHandler',
    max: env.API_RATE_LIMIT_PER_MINUTE,
    timeWindow: '1 minute',
    keyGenerator: (request) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      message: `Rate limit of ${context.max} requests per ${context.after} exceeded.`,
    }),
  });

  const notFound = notFoundOrNotAllowed(routes);
  app.setErrorHandler((err, request, reply) => {
    // No route: whatever else is wrong with the request (say a QUERY without a body), the answer is 404 or 405.
    if (request.is404) return notFound(request, reply);
    const { problem: body, headers, unexpected } = mapError(err);
    if (unexpected) request.log.error({ err }, 'request failed');
    else request.log.info({ status: body.status, detail: body.detail }, 'request refused');
    return sendProblem(reply, { ...body, instance: request.url }, headers);
  });
  app.setNotFoundHandler(notFound);

  const orders = new OrdersGateway(deps.temporal);
  observabilityRoutes(app, deps.readiness, undefined, observabilitySchemas);
  orderCommandRoutes(app, orders, new IdempotencyKeys(deps.db));
  orderQueryRoutes(app, { db: deps.db, store: deps.store, orders });
  return app;
}
