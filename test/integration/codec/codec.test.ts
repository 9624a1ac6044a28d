/**
 * Encrypted payloads on the real dev server: an order's raw history holds no plain customer id or
 * amount, the codec server decodes it over HTTP; orders started under one key finish after another
 * key becomes the encrypting one; a key nobody configured fails loudly. In a namespace of its own
 * (isolated-environment.ts), so that no other worker on the shared test namespace takes these tasks.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import type { WorkflowHandle } from '@temporalio/client';
import { createKnex, createLogger, connectTemporalClient } from '../../../infra';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, UnknownEncryptionKeyError, type CodecKey } from '../../../infra/codec/payload-codec';
import { buildCodecServer, payloadToJson, type JsonPayload } from '../../../infra/codec/server';
import { createIsolatedEnvironment, type IsolatedEnvironment } from '../../support/isolated-environment';
import { runWorkers, type RunningWorkers } from '../../support/temporal';
import { makeCatalog, startOrder, waitForStatus } from '../../support/saga-fixtures';
import { customerToken, operatorToken } from '../../support/api';
import { addItemUpdate, orderDeliveredSignal, submitOrderUpdate, type OrderOutcome } from '../../../workflows/order/contract';

const newKey = (id: string): CodecKey => ({ id, key: randomBytes(32) });
const UI_ORIGIN = 'http://localhost:8233';

/** Every payload of a raw history, with where it sits; search attributes are left out (readable on purpose). */
function payloadsOf(node: unknown, where = ''): { where: string; payload: JsonPayload }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => payloadsOf(item, `${where}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  if ('data' in record && 'metadata' in record && typeof record.metadata === 'object') {
    return [{ where, payload: payloadToJson(record as never) }];
  }
  return Object.entries(record)
    .filter(([key]) => key !== 'searchAttributes')
    .flatMap(([key, value]) => payloadsOf(value, `${where}.${key}`));
}

const text = (payload: JsonPayload): string =>
  [payload.data ?? '', ...Object.values(payload.metadata ?? {})].map((b64) => Buffer.from(b64, 'base64').toString('latin1')).join('|');
const metadataText = (payload: JsonPayload, key: string): string => Buffer.from(payload.metadata?.[key] ?? '', 'base64').toString('utf8');

/** Where SDK core writes a local activity marker's bookkeeping, past the codec (the result is beside it, encoded). */
const isLocalActivityBookkeeping = (where: string): boolean => where.includes('markerRecordedEventAttributes.details.data.');

describe('encrypted workflow payloads', () => {
  let environment: IsolatedEnvironment;
  let db: Knex;
  let catalog: Awaited<ReturnType<typeof makeCatalog>>;
  const k1 = newKey('k1');
  const k2 = newKey('k2');
  let operator: string;
  let server: FastifyInstance;
  let codecUrl: string;

  beforeAll(async () => {
    environment = await createIsolatedEnvironment('codec');
    environment.enter();
    db = createKnex({ poolMax: 10, applicationName: 'codec-test' });
    catalog = await makeCatalog(db, 20);
    operator = await operatorToken(db);
    const logger = createLogger('codec-server-test');
    logger.level = 'warn';
    server = buildCodecServer({ codec: new AesGcmPayloadCodec({ keys: [k2, k1] }), db, corsOrigins: [UI_ORIGIN], trustUiOrigin: false, logger });
    await server.listen({ host: '127.0.0.1', port: 0 });
    codecUrl = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await db?.destroy();
    await environment?.dispose();
  }, 60_000);

  async function decodeOverHttp(payloads: JsonPayload[]): Promise<JsonPayload[]> {
    const response = await fetch(`${codecUrl}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operator}`, 'x-namespace': environment.namespace },
      body: JSON.stringify({ payloads }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { payloads: JsonPayload[] }).payloads;
  }

  async function rawPayloads(workers: RunningWorkers, handle: WorkflowHandle): Promise<{ where: string; payload: JsonPayload }[]> {
    const { history } = await workers.client.workflowService.getWorkflowExecutionHistory({
      namespace: environment.namespace,
      execution: { workflowId: handle.workflowId },
    });
    return payloadsOf(history?.events ?? []);
  }

  it('stores no plain customer id or amount in any payload of the history; the codec server decodes them', async () => {
    const workers = await runWorkers(db, undefined, { codec: new AesGcmPayloadCodec({ keys: [k1] }) });
    try {
      const handle = await startOrder(workers.client, catalog.customers.good);
      await handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.widget, quantity: 2 }] });
      const submitted = await handle.executeUpdate(submitOrderUpdate);
      expect(submitted.total).toEqual({ amountMinor: 2500, currency: 'USD' });
      await waitForStatus(handle, ['confirmed']);
      await handle.signal(orderDeliveredSignal, {});
      expect(((await handle.result()) as OrderOutcome).status).toBe('delivered');

      const raw = await rawPayloads(workers, handle);
      expect(raw.length).toBeGreaterThan(20);
      // The SDK core writes patch markers itself, past the codec: they hold only the patch's id.
      const patchMarkers = raw.filter(({ where }) => where.includes('.patch-data.'));
      expect(patchMarkers.length).toBeGreaterThan(0);
      for (const { payload } of patchMarkers) expect(Object.keys(JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as object).sort()).toEqual(['deprecated', 'id']);
      // So are a local activity marker's bookkeeping (which activity, when, which attempt); its result goes through the codec.
      const bookkeeping = raw.filter(({ where }) => isLocalActivityBookkeeping(where));
      expect(bookkeeping.length).toBeGreaterThan(0);
      for (const { payload } of bookkeeping) {
        expect(Object.keys(JSON.parse(Buffer.from(payload.data ?? '', 'base64').toString('utf8')) as object).sort()).toEqual(
          ['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq'],
        );
      }
      for (const { where, payload } of raw) {
        expect({ where, hasCustomer: text(payload).includes(catalog.customers.good), hasAmount: text(payload).includes('2500') }).toEqual({ where, hasCustomer: false, hasAmount: false });
        if (where.includes('.patch-data.') || isLocalActivityBookkeeping(where)) continue;
        expect({ where, encoding: metadataText(payload, 'encoding'), key: metadataText(payload, KEY_ID_METADATA) }).toEqual({ where, encoding: ENCRYPTED_ENCODING, key: 'k1' });
      }
      const decoded = (await decodeOverHttp(raw.map((r) => r.payload))).map(text).join('\n');
      expect(decoded).toContain(catalog.customers.good);
      expect(decoded).toContain('"amountMinor":2500');
      expect(decoded).toContain('json/plain');
    } finally {
      await workers.stop();
    }
  }, 120_000);

  it('key rotation: orders started under key 1 finish on workers restarted with key 2 encrypting', async () => {
    const before = await runWorkers(db, undefined, { codec: new AesGcmPayloadCodec({ keys: [k1] }) });
    const handles: WorkflowHandle[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const handle = await startOrder(before.client, catalog.customers.good);
        await handle.executeUpdate(addItemUpdate, { args: [{ sku: catalog.sku.gadget, quantity: 1 }] });
        handles.push(handle);
      }
    } finally {
      await before.stop();
    }
    const after = await runWorkers(db, undefined, { codec: new AesGcmPayloadCodec({ keys: [k2, k1] }) });
    try {
      for (const old of handles) {
        const handle = after.client.workflow.getHandle(old.workflowId);
        await handle.executeUpdate(submitOrderUpdate);
        await waitForStatus(handle, ['confirmed']);
        await handle.signal(orderDeliveredSignal, {});
        expect(((await handle.result()) as OrderOutcome).status).toBe('delivered');
        const encrypted = (await rawPayloads(after, handle)).filter(({ where }) => !where.includes('.patch-data.') && !isLocalActivityBookkeeping(where));
        const keyIds = new Set(encrypted.map(({ payload }) => metadataText(payload, KEY_ID_METADATA)));
        expect([...keyIds].sort()).toEqual(['k1', 'k2']);
      }
      // A process that was never given key 2 cannot read the rotated history, and says why.
      const stale = await connectTemporalClient({ codec: new AesGcmPayloadCodec({ keys: [k1] }) });
      try {
        await expect(stale.workflow.getHandle(handles[0]!.workflowId).result()).rejects.toThrow(UnknownEncryptionKeyError);
      } finally {
        await stale.connection.close();
      }
    } finally {
      await after.stop();
    }
  }, 180_000);

  it('a workflow whose input was encrypted with a key the workers lack fails its workflow task loudly, naming the key', async () => {
    const workers = await runWorkers(db, undefined, { codec: new AesGcmPayloadCodec({ keys: [k1] }) });
    const stranger = await connectTemporalClient({ codec: new AesGcmPayloadCodec({ keys: [newKey('k-unknown')] }) });
    try {
      const handle = await startOrder(stranger, catalog.customers.good);
      const deadline = Date.now() + 30_000;
      let failure: string | undefined;
      while (!failure && Date.now() < deadline) {
        const { history } = await workers.client.workflowService.getWorkflowExecutionHistory({ namespace: environment.namespace, execution: { workflowId: handle.workflowId } });
        failure = history?.events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message ?? undefined;
        if (!failure) await new Promise((r) => setTimeout(r, 300));
      }
      expect(failure).toMatch(/k-unknown/);
      await handle.terminate('test: unknown key');
    } finally {
      await stranger.connection.close();
      await workers.stop();
    }
  }, 60_000);

  describe('codec server authorization and CORS', () => {
    const post = (path: string, headers: Record<string, string>, body: unknown = { payloads: [] }) =>
      fetch(`${codecUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

    it('answers the Web UI origin preflight and sets CORS headers on answers; refuses other origins', async () => {
      const preflight = await fetch(`${codecUrl}/decode`, {
        method: 'OPTIONS',
        headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/x-namespace/);
      expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/);
      const evil = await fetch(`${codecUrl}/decode`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
      expect(evil.status).toBe(403);
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const answered = await post('/encode', { origin: UI_ORIGIN, authorization: `Bearer ${operator}` });
      expect(answered.status).toBe(200);
      expect(answered.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    });

    it('needs an operator key: none or unknown 401, a customer key 403, as problem+json', async () => {
      const none = await post('/decode', {});
      expect(none.status).toBe(401);
      expect(none.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(((await none.json()) as { detail: string }).detail).toMatch(/operator API key/);
      expect((await post('/decode', { authorization: 'Bearer oot_nope_nope' })).status).toBe(401);
      const customer = await post('/decode', { authorization: `Bearer ${await customerToken(db, catalog.customers.good)}` });
      expect(customer.status).toBe(403);
      expect(customer.headers.get('content-type')).toMatch(/application\/problem\+json/);
      // The UI origin alone is no key unless the server trusts it.
      expect((await post('/decode', { origin: UI_ORIGIN })).status).toBe(401);
    });

    it('trusts the UI origin without a key only when configured to', async () => {
      const logger = createLogger('codec-server-test');
      logger.level = 'warn';
      const trusting = buildCodecServer({ codec: new AesGcmPayloadCodec({ keys: [k1] }), db, corsOrigins: [UI_ORIGIN], trustUiOrigin: true, logger });
      try {
        const response = await trusting.inject({ method: 'POST', url: '/decode', headers: { origin: UI_ORIGIN }, payload: { payloads: [] } });
        expect(response.statusCode).toBe(200);
        expect((await trusting.inject({ method: 'POST', url: '/decode', headers: { origin: 'http://evil.example' }, payload: { payloads: [] } })).statusCode).toBe(401);
      } finally {
        await trusting.close();
      }
    });

    it('round-trips encode and decode, refuses bad bodies with 400 and an unknown key id with 422', async () => {
      const auth = { authorization: `Bearer ${operator}` };
      const plain = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"secret":1}').toString('base64') };
      const encoded = (await (await post('/encode', auth, { payloads: [plain] })).json()) as { payloads: JsonPayload[] };
      expect(metadataText(encoded.payloads[0]!, KEY_ID_METADATA)).toBe('k2');
      expect(await decodeOverHttp(encoded.payloads)).toEqual([plain]);
      const bad = await post('/decode', auth, { payloads: 'nope' });
      expect(bad.status).toBe(400);
      expect(bad.headers.get('content-type')).toMatch(/application\/problem\+json/);
      const [foreign] = await new AesGcmPayloadCodec({ keys: [newKey('k9')] }).encode([{ metadata: {}, data: new Uint8Array([1]) }]);
      const unknown = await post('/decode', auth, { payloads: [payloadToJson(foreign!)] });
      expect(unknown.status).toBe(422);
      expect(((await unknown.json()) as { detail: string }).detail).toMatch(/"k9"/);
    });
  });
});
