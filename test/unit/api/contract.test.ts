import net from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import knex, { type Knex } from 'knex';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { buildApi } from '../../../api/server';
import { installValidators } from '../../../api/validation';
import { jsonSchemaOf, portablePattern } from '../../../api/json-schema';
import { canonicalJson, fingerprint } from '../../../api/idempotency';
import {
  AddItemBody,
  CancelBody,
  CreateOrderBody,
  DailySalesQuery,
  DeliveryBody,
  ListOrdersQuery,
  PROBLEM_CONTENT_TYPE,
} from '../../../api/schemas';
import { MAX_QUANTITY_PER_SKU, MAX_REASON_LENGTH, ORDER_STATUSES } from '../../../domain';
import { ReasonSchema } from '../../../domain/order/fields';
import { ORDER_ID_PATTERN, ReferenceSchema, SKU_PATTERN } from '../../../domain/order/fields';
import type { PostgresEventStore } from '../../../eventstore';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The API over dependencies that are never reached: enough for its document and its pre-route answers. */
async function offlineApi(): Promise<{ app: FastifyInstance; db: Knex; doc: Json }> {
  const db = knex({ client: 'pg', connection: 'postgres://nobody:nothing@127.0.0.1:1/none' });
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const app = await buildApi({ db, temporal, store: {} as PostgresEventStore, readiness: {}, logger: false });
  await app.ready();
  const doc = (await app.inject('/openapi.json')).json() as Json;
  return { app, db, doc };
}

const METHODS = ['get', 'post', 'put', 'delete', 'patch'];
const openApiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}');

describe('the published contract', () => {
  let app: FastifyInstance;
  let db: Knex;
  let doc: Json;

  beforeAll(async () => {
    ({ app, db, doc } = await offlineApi());
  });
  afterAll(async () => {
    await app.close();
    await db.destroy();
  });

  it('publishes exactly the schemas the routes validate with', () => {
    expect(app.validatedSchemas.size).toBeGreaterThan(10);
    for (const [key, schema] of app.validatedSchemas) {
      const [method, url, part] = key.split(' ') as [string, string, string];
      if (url === '/openapi.json' || url.startsWith('/docs')) continue;
      const operation = doc.paths[openApiPath(url)]?.[method.toLowerCase()] as Json | undefined;
      if (method === 'HEAD') continue; // Fastify's own HEAD twin of a GET, not an operation of its own
      expect({ key, documented: operation !== undefined }).toEqual({ key, documented: true });
      const s = schema as Json;
      if (part === 'body') {
        expect(operation!.requestBody.content['application/json'].schema).toEqual(s);
        continue;
      }
      const location = { querystring: 'query', params: 'path', headers: 'header' }[part]!;
      const documented = (operation!.parameters as Json[]).filter((p) => p.in === location);
      expect(documented.map((p) => p.name).sort()).toEqual(Object.keys(s.properties as Json).sort());
      for (const parameter of documented) {
        const { description, ...property } = s.properties[parameter.name] as Json;
        expect({ name: parameter.name, schema: parameter.schema }).toEqual({ name: parameter.name, schema: property });
        if (description) expect(parameter.description).toBe(description);
        expect(parameter.required).toBe(location === 'path' || ((s.required as string[] | undefined) ?? []).includes(parameter.name));
      }
    }
  });

  it('derives every limit from the domain', () => {
    const addItem = jsonSchemaOf(AddItemBody) as Json;
    expect(addItem.properties.quantity).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_QUANTITY_PER_SKU });
    expect(new RegExp(addItem.properties.sku.pattern, 'u').source).toBe(SKU_PATTERN.source);
    const cancel = jsonSchemaOf(CancelBody) as Json;
    const reason = (cancel.anyOf as Json[]).find((s) => s.type === 'object')!.properties.reason;
    expect(reason.maxLength).toBe(MAX_REASON_LENGTH);
    const idParam = (doc.paths['/orders/{id}'].get.parameters as Json[]).find((p) => p.name === 'id')!;
    expect(idParam.schema.pattern).toBe(ORDER_ID_PATTERN.source);
    const customer = (jsonSchemaOf(CreateOrderBody) as Json).properties.customerId;
    expect(customer).toMatchObject(jsonSchemaOf(ReferenceSchema));
    const status = (jsonSchemaOf(ListOrdersQuery) as Json).properties.status;
    expect(status.enum).toEqual(ORDER_STATUSES.filter((s) => s !== 'none'));
  });

  it('documents a success with required fields and problem+json errors for every operation', () => {
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const method of METHODS) {
        const operation = (item as Json)[method] as Json | undefined;
        if (!operation) continue;
        const statuses = Object.keys(operation.responses as Json);
        const label = `${method.toUpperCase()} ${path}`;
        expect({ label, success: statuses.some((s) => s.startsWith('2')) }).toEqual({ label, success: true });
        for (const status of statuses) {
          const content = operation.responses[status].content as Json;
          if (status.startsWith('2')) {
            const schema = Object.values(content)[0].schema as Json;
            const object = schema.type === 'array' ? schema.items : schema;
            if (object.type === 'object') expect({ label, status, required: (object.required ?? []).length > 0 }).toEqual({ label, status, required: true });
          } else {
            expect({ label, status, types: Object.keys(content) }).toEqual({ label, status, types: [PROBLEM_CONTENT_TYPE] });
          }
        }
        expect({ label, has431: statuses.includes('431') }).toEqual({ label, has431: true });
        if (path.includes('{')) expect({ label, has414: statuses.includes('414') }).toEqual({ label, has414: true });
        if (operation.requestBody) expect({ label, s: ['413', '415'].every((s) => statuses.includes(s)) }).toEqual({ label, s: true });
      }
    }
  });

  it('marks the public routes public and every other one behind the bearer key', () => {
    expect(doc.security).toEqual([{ bearer: [] }]);
    for (const path of ['/health/live', '/health/ready', '/metrics']) expect(doc.paths[path].get.security).toEqual([]);
    for (const path of ['/orders', '/orders/{id}', '/analytics/daily-sales']) {
      expect(doc.paths[path].get.security).toBeUndefined();
      expect(doc.paths[path].get.responses['401']).toBeDefined();
    }
  });

  it('answers 405 with Allow for a known path and an unsupported method, 204 with Allow for OPTIONS', async () => {
    for (const method of ['TRACE', 'PUT', 'PATCH', 'DELETE'] as const) {
      const r = await app.inject({ method, url: '/orders/abc' });
      expect([method, r.statusCode, r.headers.allow, r.headers['content-type']]).toEqual([method, 405, 'GET, HEAD', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`]);
    }
    expect((await app.inject({ method: 'PUT', url: '/health/live' })).headers.allow).toBe('GET, HEAD');
    const options = await app.inject({ method: 'OPTIONS', url: '/orders' });
    expect([options.statusCode, options.headers.allow]).toEqual([204, 'GET, HEAD, POST']);
    const unknown = await app.inject({ method: 'GET', url: '/no/such/path' });
    expect([unknown.statusCode, unknown.headers['content-type']]).toEqual([404, `${PROBLEM_CONTENT_TYPE}; charset=utf-8`]);
  });

  it('answers overlong and malformed URLs, oversized headers and unknown methods with problem+json', async () => {
    const long = await app.inject({ method: 'GET', url: `/orders/${'a'.repeat(300)}` });
    expect([long.statusCode, long.headers['content-type']]).toEqual([414, `${PROBLEM_CONTENT_TYPE}; charset=utf-8`]);
    const bad = await app.inject({ method: 'GET', url: '/orders/%ZZ' });
    expect([bad.statusCode, bad.json().status]).toEqual([400, 400]);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const raw = (request: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
        let data = '';
        socket.on('data', (chunk) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
    const headers = await raw(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(headers).toMatch(/^HTTP\/1\.1 431 /);
    expect(headers).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(headers.split('\r\n\r\n')[1]!)).toMatchObject({ status: 431, title: 'Request Header Fields Too Large' });
    const method = await raw('FOO /orders/abc HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(method).toMatch(/^HTTP\/1\.1 405 /);
    expect(method).toMatch(/allow: GET, HEAD/i);
    const garbage = await raw('FOO /no/such HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toMatch(/application\/problem\+json/);
  });
});

describe('request validation', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    installValidators(app);
    const echo = async (request: { body?: unknown; query?: unknown }) => ({ body: request.body ?? null, query: request.query ?? null });
    app.post('/items', { schema: { body: jsonSchemaOf(AddItemBody) } }, echo);
    app.post('/delivery', { schema: { body: jsonSchemaOf(DeliveryBody) } }, echo);
    app.post('/orders', { schema: { body: jsonSchemaOf(CreateOrderBody) } }, echo);
    app.get('/sales', { schema: { querystring: jsonSchemaOf(DailySalesQuery) } }, echo);
    app.get('/list', { schema: { querystring: jsonSchemaOf(ListOrdersQuery) } }, echo);
    await app.ready();
  });
  afterAll(() => app.close());

  it('does not coerce bodies: "2", true, [3] and "1e1" are not quantities', async () => {
    for (const quantity of ['2', true, [3], '1e1', 1.5, 0, MAX_QUANTITY_PER_SKU + 1, null]) {
      const r = await app.inject({ method: 'POST', url: '/items', payload: { sku: 'SKU-1', quantity } });
      expect([JSON.stringify(quantity), r.statusCode]).toEqual([JSON.stringify(quantity), 400]);
    }
    const ok = await app.inject({ method: 'POST', url: '/items', payload: { sku: 'SKU-1', quantity: 2 } });
    expect(ok.json().body).toEqual({ sku: 'SKU-1', quantity: 2 });
    expect((await app.inject({ method: 'POST', url: '/items', payload: { sku: 'SKU-1', quantity: 2, extra: 1 } })).statusCode).toBe(400);
  });

  it('coerces query strings to their documented types and fills in defaults', async () => {
    const r = await app.inject({ method: 'GET', url: '/list?limit=5' });
    expect(r.json().query).toEqual({ limit: 5 });
    expect((await app.inject({ method: 'GET', url: '/list' })).json().query).toEqual({ limit: 20 });
    for (const limit of ['1e1', '%205', '0x10', '5.0', 'true', '']) {
      expect([limit, (await app.inject({ method: 'GET', url: `/list?limit=${limit}` })).statusCode]).toEqual([limit, 400]);
    }
    expect((await app.inject({ method: 'POST', url: '/orders', payload: {} })).json().body).toEqual({ currency: 'USD' });
  });

  it('takes calendar dates only, of years PostgreSQL stores', async () => {
    for (const [from, status] of [
      ['2026-02-30', 400],
      ['2026-13-01', 400],
      ['0000-00-00', 400],
      ['0000-01-01', 400],
      ['2025-02-29', 400],
      ['2024-02-29', 200],
      ['0001-01-01', 200],
      ['9999-12-31', 200],
      ['٢٠٢٤-01-01', 400],
    ] as const) {
      const r = await app.inject({ method: 'GET', url: `/sales?from=${encodeURIComponent(from)}&to=2026-03-01` });
      expect([from, r.statusCode]).toEqual([from, status]);
    }
  });

  it('takes delivery times JavaScript and PostgreSQL both take (no leap second, no year 0, UTC)', async () => {
    for (const [deliveredAt, status] of [
      ['2016-12-31T23:59:60Z', 400],
      ['2026-02-30T10:00:00Z', 400],
      ['0000-01-01T00:00:00Z', 400],
      ['2026-01-01T10:00:00+01:00', 400],
      ['2026-01-01T24:00:00Z', 400],
      ['2026-01-01T10:00:00Z', 200],
      ['2026-01-01T10:00:00.123456789Z', 200],
      ['0001-01-01T00:00:00Z', 200],
    ] as const) {
      const r = await app.inject({ method: 'POST', url: '/delivery', payload: { deliveredAt } });
      expect([deliveredAt, r.statusCode]).toEqual([deliveredAt, status]);
      if (status === 200) expect(Number.isNaN(new Date(deliveredAt).getTime())).toBe(false);
    }
    expect((await app.inject({ method: 'POST', url: '/delivery', payload: 'null', headers: { 'content-type': 'application/json' } })).statusCode).toBe(200);
  });
});

describe('portable patterns', () => {
  const matches = (regex: RegExp, text: string): boolean => new RegExp(portablePattern(regex), 'u').test(text);

  it('keep JavaScript meaning of \\d, \\s, \\S and of . with and without the s flag', () => {
    for (const regex of [/^\S(?:.*\S)?$/s, /^\d{2}$/, /^a.b$/, /^[\w-]+$/]) {
      for (const text of ['ab', 'a\nb', 'a b', ' a', 'a\u00a0', '12', '١٢', 'a\rb', 'a.b', 'x-y', '\u{1F600}x']) {
        expect([regex.source, text, matches(regex, text)]).toEqual([regex.source, text, regex.test(text)]);
      }
    }
  });

  it('publish a field of several patterns (a reason) with every one portable, agreeing with the domain', () => {
    const reason = (jsonSchemaOf(CancelBody) as { anyOf: { properties?: { reason?: { allOf?: { pattern: string }[] } } }[] }).anyOf[0]
      ?.properties?.reason;
    const patterns = (reason?.allOf ?? []).map((part) => new RegExp(part.pattern, 'u'));
    expect(patterns.length).toBeGreaterThan(1);
    for (const text of ['fine', 'a\u2028b', 'two words', ' padded', 'a\u0000b', '\ud800', 'x\u0007', 'emoji \u{1F600}', 'a\rb']) {
      const published = patterns.every((pattern) => pattern.test(text));
      expect([JSON.stringify(text), published]).toEqual([JSON.stringify(text), ReasonSchema.safeParse(text).success]);
    }
  });

  it('refuses flags and refinements JSON Schema cannot carry', () => {
    expect(() => portablePattern(/a/i)).toThrow(/flags/);
    expect(() => jsonSchemaOf(z.string().refine((s) => s.length > 1))).toThrow(/refinement/);
  });
});

describe('idempotency fingerprints', () => {
  it('are equal for equal requests whatever the key order, different otherwise', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }], u: undefined })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    const print = (request: unknown, route = '/orders/:id/items') => fingerprint({ method: 'POST', route, request });
    expect(print({ sku: 'A', quantity: 1 })).toEqual(print({ quantity: 1, sku: 'A' }));
    expect(print({ sku: 'A', quantity: 1 })).not.toEqual(print({ sku: 'A', quantity: 2 }));
    expect(print({ sku: 'A' }, '/orders/:id/items/:sku')).not.toEqual(print({ sku: 'A' }));
  });
});

describe('error mapping', () => {
  it('answers text PostgreSQL cannot take (a NUL byte) with 400, not 500', async () => {
    const { mapError } = await import('../../../api/errors');
    const nul = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    expect(mapError(nul)).toMatchObject({ problem: { status: 400 }, unexpected: false });
  });
});
