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
import { problem, sendProblem } from './problem';
import { OrdersGateway } from './orders-gateway';
import { observabilityRoutes, type ReadinessChecks } from '../infra/observability';
import { orderCommandRoutes } from './routes/order-commands';
import { orderQueryRoutes } from './routes/order-queries';

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
  const app = Fastify({
    logger: deps.logger ?? { level: env.LOG_LEVEL },
    bodyLimit: env.API_BODY_LIMIT_BYTES,
    // A caller's request id is kept (and becomes the correlation id of what the request causes).
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Orders-on-Temporal API', version: '1.0.0', description: 'Orders driven through Temporal; reads from projections. Errors are RFC 9457 problem+json.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

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

  app.setErrorHandler((err, request, reply) => {
    const { problem: body, headers, unexpected } = mapError(err);
    if (unexpected) request.log.error({ err }, 'request failed');
    else request.log.info({ status: body.status, detail: body.detail }, 'request refused');
    return sendProblem(reply, { ...body, instance: request.url }, headers);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, { ...problem(404, `No route ${request.method} ${request.url.split('?')[0]}.`) }));

  const orders = new OrdersGateway(deps.temporal);
  observabilityRoutes(app, deps.readiness);
  orderCommandRoutes(app, orders);
  orderQueryRoutes(app, { db: deps.db, store: deps.store, orders });
  return app;
}
