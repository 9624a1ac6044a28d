import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server';
import { createApiKey } from '../../api/api-keys';
import type { ReadinessChecks } from '../../infra/observability';
import { PostgresEventStore } from '../../eventstore';
import { orderRegistry } from '../../domain';

export interface RunningApi {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** The real API on an ephemeral port, over the real database and Temporal. */
export async function startApi(db: Knex, temporal: Client, readiness: ReadinessChecks = {}): Promise<RunningApi> {
  const store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
  const app = await buildApi({ db, temporal, store, readiness, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

export async function operatorToken(db: Knex): Promise<string> {
  return (await createApiKey(db, { role: 'operator', label: 'test operator' })).token;
}

export async function customerToken(db: Knex, customerId: string): Promise<string> {
  return (await createApiKey(db, { role: 'customer', customerId, label: `test ${customerId}` })).token;
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small fetch wrapper: JSON in, JSON (or problem+json) out. */
export async function http<T = Record<string, unknown>>(
  api: RunningApi,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${api.url}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (e.g. /metrics): keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}
