/**
 * The codec server (Temporal's remote codec protocol): POST /encode and POST /decode take and answer
 * `{"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}`. The Web UI calls it from the
 * browser (CORS for its origin, preflight answered), the temporal CLI with `--codec-endpoint` and
 * `--codec-auth`. Every call needs an operator API key (`Authorization: Bearer <key>`, the API's keys):
 * none or an unknown one answers 401, a customer's 403, as RFC 9457 problems. With `trustUiOrigin`,
 * a request from an allowed origin needs no key (the dev server's Web UI cannot send one).
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Knex } from 'knex';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { Logger } from '../logger';
import { findPrincipal } from '../../api/api-keys';
import { problem, sendProblem } from '../../api/problem';
import { observabilityRoutes } from '../observability';
import { PayloadDecryptionError, UnknownEncryptionKeyError } from './payload-codec';

export interface CodecServerOptions {
  codec: PayloadCodec;
  db: Knex;
  corsOrigins: readonly string[];
  trustUiOrigin: boolean;
  logger: Logger;
  bodyLimitBytes?: number;
}

/** A payload as JSON: metadata values and data in base64. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const bodySchema = {
  type: 'object',
  required: ['payloads'],
  additionalProperties: false,
  properties: {
    payloads: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        properties: {
          metadata: { type: 'object', additionalProperties: { type: 'string', pattern: BASE64.source } },
          data: { type: 'string', pattern: BASE64.source },
        },
      },
    },
  },
} as const;

export function payloadFromJson(json: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(json.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(json.data ?? '', 'base64')),
  };
}

export function payloadToJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

class Refused extends Error {
  constructor(readonly status: number, detail: string, readonly headers: Record<string, string> = {}) {
    super(detail);
  }
}

export function buildCodecServer(options: CodecServerOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, bodyLimit: options.bodyLimitBytes ?? 4 * 1024 * 1024 });
  const origins = new Set(options.corsOrigins);

  const allowedOrigin = (request: FastifyRequest): string | undefined => {
    const origin = request.headers.origin;
    return typeof origin === 'string' && origins.has(origin) ? origin : undefined;
  };

  // CORS on every answer (problems too, so that the browser shows them), for allowed origins only.
  app.addHook('onSend', async (request, reply) => {
    const origin = allowedOrigin(request);
    if (origin) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-allow-credentials', 'true');
      reply.header('vary', 'Origin');
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (err instanceof Refused) {
      request.log.info({ status: err.status, detail: err.message }, 'codec request refused');
      return sendProblem(reply, { ...problem(err.status, err.message), instance: request.url }, err.headers);
    }
    if (err instanceof UnknownEncryptionKeyError || err instanceof PayloadDecryptionError) {
      request.log.warn({ keyId: err.keyId, err: err.message }, 'payload does not decode');
      return sendProblem(reply, { ...problem(422, err.message, { keyId: err.keyId }), instance: request.url });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'codec request failed');
    return sendProblem(reply, { ...problem(status, status === 500 ? 'The codec server failed.' : err.message), instance: request.url });
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, { ...problem(404, `${request.method} ${request.url} is not a route.`), instance: request.url }));

  app.options('/:route', (request, reply) => {
    if (!allowedOrigin(request)) return sendProblem(reply, problem(403, 'This origin may not call the codec server.'));
    return reply
      .status(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'authorization, content-type, x-namespace')
      .header('access-control-max-age', '600')
      .send();
  });

  const authorize = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (header === undefined && options.trustUiOrigin && allowedOrigin(request)) return;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) throw new Refused(401, 'Send an operator API key as "Authorization: Bearer <token>".', { 'www-authenticate': 'Bearer' });
    const principal = await findPrincipal(options.db, match[1]);
    if (!principal) throw new Refused(401, 'The API key is unknown or revoked.', { 'www-authenticate': 'Bearer' });
    if (principal.role !== 'operator') throw new Refused(403, 'Only operators may encode or decode payloads.');
  };

  const route = (name: 'encode' | 'decode') => {
    app.post<{ Body: { payloads: JsonPayload[] } }>(`/${name}`, { schema: { body: bodySchema }, preHandler: authorize }, async (request, reply: FastifyReply) => {
      const payloads = request.body.payloads.map(payloadFromJson);
      const out = name === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
      request.log.debug({ namespace: request.headers['x-namespace'], payloads: out.length }, `codec ${name}`);
      return reply.type('application/json').send({ payloads: out.map(payloadToJson) });
    });
  };
  route('encode');
  route('decode');

  observabilityRoutes(app, {
    postgres: async () => {
      await options.db.raw('SELECT 1');
    },
  });
  return app;
}
