import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ReadinessChecks = Record<string, () => Promise<void>>;

/** Route schemas for the three endpoints, where a server publishes a document (the API does). */
export interface ObservabilitySchemas {
  live?: Record<string, unknown>;
  ready?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/**
 * /health/live, /health/ready (each dependency checked, with a timeout) and Prometheus /metrics. They
 * need no key and are not rate limited (probes and scrapers call them often, and must not be refused).
 * Not ready is an RFC 9457 problem (503) that lists each check.
 */
export function observabilityRoutes(
  app: FastifyInstance,
  readiness: ReadinessChecks,
  registry = new Registry(),
  schemas: ObservabilitySchemas = {},
): Registry {
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const publicRoute = (schema: Record<string, unknown> | undefined) => ({
    config: { public: true, rateLimit: false },
    schema: { tags: ['health'], security: [], ...schema },
  });

  app.get('/health/live', publicRoute(schemas.live), async () => ({ status: 'ok' }));

  app.get('/health/ready', publicRoute(schemas.ready), async (_request, reply) => {
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          return [name, { status: 'up' }] as const;
        } catch (err) {
          return [name, { status: 'down', error: (err as Error).message }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(results);
    const down = results.filter(([, r]) => r.status !== 'up').map(([name]) => name);
    if (down.length === 0) return { status: 'ready', checks };
    return reply
      .status(503)
      .header('retry-after', '5')
      .type('application/problem+json')
      .send({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: `Not ready: ${down.join(', ')} down.`, checks });
  });

  app.get('/metrics', publicRoute(schemas.metrics), async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

export interface ObservabilityServer {
  /** The port it listens on (the OS's pick when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The same three endpoints on a server of their own, for processes that serve no API (projectors, the
 * relay): orchestrators probe them and Prometheus scrapes them like the API's.
 */
export async function startObservabilityServer(options: {
  host: string;
  port: number;
  readiness: ReadinessChecks;
  registry: Registry;
}): Promise<ObservabilityServer> {
  const app = Fastify({ logger: false });
  observabilityRoutes(app, options.readiness, options.registry);
  await app.listen({ host: options.host, port: options.port });
  const { port } = app.server.address() as AddressInfo;
  return { port, close: () => app.close() };
}

/**
 * For gauges read from elsewhere when scraped (a database query, say): the collects of one scrape share
 * one read, and a slow or failing read leaves the previous values in place rather than failing the
 * scrape. Returns what each gauge's collect awaits before setting its values.
 */
export function readOnScrape(read: () => Promise<void>, options: { timeoutMs?: number; onError(err: Error): void }): () => Promise<void> {
  let startedAt = 0;
  let current: Promise<void> | undefined;
  return () => {
    if (current === undefined || Date.now() - startedAt > 1000) {
      startedAt = Date.now();
      current = withTimeout(read(), options.timeoutMs ?? 3000).catch((err: unknown) => options.onError(err as Error));
    }
    return current;
  };
}

/**
 * Defines gauges with one label, set when scraped from rows read then (e.g. each relay lane's state, each
 * projection's lag): returns a function that adds one gauge per call, naming how a row gives its value.
 */
export function scrapedGauges<Row>(
  registry: Registry,
  label: string,
  rows: () => readonly Row[] | Promise<readonly Row[]>,
  labelOf: (row: Row) => string,
): (name: string, help: string, value: (row: Row) => number) => void {
  return (name, help, value) => {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      async collect() {
        for (const row of await rows()) this.set({ [label]: labelOf(row) }, value(row));
      },
    });
  };
}
