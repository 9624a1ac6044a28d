import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InvalidEventError,
  PostgresEventStore,
  UnknownEventTypeError,
  type NewEvent,
} from '../../../eventstore';
import { createPgClient } from '../../../infra';
import { openTestDatabase } from '../../support/postgres';
import { testRegistry } from '../../support/test-events';

const happened = (n: number, eventId: string = randomUUID()): NewEvent => ({ eventId, type: 'ThingHappened', data: { n } });

describe('event store appends (real Postgres)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = new PostgresEventStore(db, testRegistry());
  });
  afterAll(() => db?.destroy());

  const newStream = (): string => `Thing-${randomUUID()}`;
  const countEvents = async (streamId: string): Promise<number> =>
    Number((await db('events').where('stream_id', streamId).count<{ count: string }[]>('* as count'))[0]?.count);

  it('appends a batch atomically with contiguous versions, metadata and the stream type', async () => {
    const streamId = newStream();
    const result = await store.append(streamId, [happened(1), happened(2), happened(3)], { expectedVersion: 'no_stream' });
    expect(result).toMatchObject({ nextExpectedVersion: 3, duplicate: false });
    expect(result.lastPosition - result.firstPosition).toBe(2n);
    await store.append(streamId, [{ ...happened(4), metadata: { correlationId: 'c-1', actor: 'tester' } }], {
      expectedVersion: 3,
    });
    const events = await store.readStream(streamId);
    expect(events.map((e) => [e.streamVersion, e.data])).toEqual([
      [1, { n: 1 }],
      [2, { n: 2 }],
      [3, { n: 3 }],
      [4, { n: 4 }],
    ]);
    expect(events[3]?.metadata).toEqual({ correlationId: 'c-1', actor: 'tester' });
    expect(events[0]?.streamType).toBe('Thing');
    expect(await store.streamVersion(streamId)).toBe(4);
  });

  describe('expected versions', () => {
    it("'no_stream' fails once the stream exists, with the actual version", async () => {
      const streamId = newStream();
      await store.append(streamId, [happened(1)], { expectedVersion: 'no_stream' });
      const err = await store.append(streamId, [happened(2)], { expectedVersion: 'no_stream' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConcurrencyError);
      expect(err).toMatchObject({ expected: 'no_stream', actual: 1, streamId });
    });

    it("'stream_exists' fails on a new stream and succeeds on an existing one", async () => {
      const streamId = newStream();
      await expect(store.append(streamId, [happened(1)], { expectedVersion: 'stream_exists' })).rejects.toMatchObject({
        name: 'ConcurrencyError',
        actual: 0,
      });
      expect(await countEvents(streamId)).toBe(0);
      await store.append(streamId, [happened(1)], { expectedVersion: 'any' });
      await expect(store.append(streamId, [happened(2)], { expectedVersion: 'stream_exists' })).resolves.toMatchObject({
        nextExpectedVersion: 2,
      });
    });

    it('an exact version fails when stale and when ahead', async () => {
      const streamId = newStream();
      await store.append(streamId, [happened(1), happened(2)], { expectedVersion: 0 });
      await expect(store.append(streamId, [happened(3)], { expectedVersion: 1 })).rejects.toMatchObject({ actual: 2 });
      await expect(store.append(streamId, [happened(3)], { expectedVersion: 5 })).rejects.toMatchObject({ actual: 2 });
      await expect(store.append(newStream(), [happened(3)], { expectedVersion: 2 })).rejects.toBeInstanceOf(ConcurrencyError);
    });

    it('20 concurrent appends with the same exact version: exactly one wins, the rest learn the actual version', async () => {
      const streamId = newStream();
      await store.append(streamId, [happened(0)], { expectedVersion: 'no_stream' });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.append(streamId, [happened(i + 1)], { expectedVersion: 1 })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      for (const r of lost) expect(r.reason).toMatchObject({ name: 'ConcurrencyError', actual: 2 });
      expect(await countEvents(streamId)).toBe(2);
    });

    it('20 racing writers retrying on conflict: every version has exactly one event, nothing lost', async () => {
      const streamId = newStream();
      const writer = async (i: number): Promise<void> => {
        for (;;) {
          const version = await store.streamVersion(streamId);
          try {
            await store.append(streamId, [happened(i)], { expectedVersion: version === 0 ? 'no_stream' : version });
            return;
          } catch (err) {
            if (!(err instanceof ConcurrencyError)) throw err;
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, (_, i) => writer(i)));
      const events = await store.readStream(streamId);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => (e.data as { n: number }).n)).size).toBe(20);
    });

    it("'any': 20 concurrent appends all succeed with contiguous versions", async () => {
      const streamId = newStream();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.append(streamId, [happened(i)], { expectedVersion: 'any' })),
      );
      expect(results.map((r) => r.nextExpectedVersion).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const events = await store.readStream(streamId);
      expect(events.map((e) => e.streamVersion)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });
  });

  describe('idempotency', () => {
    it('a retried append returns the original result and writes nothing', async () => {
      const streamId = newStream();
      const batch = [happened(1), happened(2)];
      const first = await store.append(streamId, batch, { expectedVersion: 'no_stream' });
      const retry = await store.append(streamId, batch, { expectedVersion: 'no_stream' });
      expect(retry).toEqual({ ...first, duplicate: true });
      // Also after the stream moved on, and with 'any'.
      await store.append(streamId, [happened(3)], { expectedVersion: 2 });
      await expect(store.append(streamId, batch, { expectedVersion: 'any' })).resolves.toMatchObject({ duplicate: true });
      await expect(store.append(streamId, batch, { expectedVersion: 0 })).resolves.toMatchObject({ duplicate: true });
      expect(await countEvents(streamId)).toBe(3);
      expect(await store.streamVersion(streamId)).toBe(3);
    });

    it('identical appends racing with any expected version store the batch once', async () => {
      const streamId = newStream();
      const batch = [happened(1), happened(2)];
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.append(streamId, batch, { expectedVersion: 'any' })),
      );
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(await countEvents(streamId)).toBe(2);
      expect(await store.streamVersion(streamId)).toBe(2);
    });

    it('rejects a partial overlap and a known id with other content, writing nothing', async () => {
      const streamId = newStream();
      const a = happened(1);
      await store.append(streamId, [a], { expectedVersion: 'no_stream' });
      await expect(store.append(streamId, [a, happened(2)], { expectedVersion: 'any' })).rejects.toBeInstanceOf(
        IdempotencyConflictError,
      );
      await expect(store.append(streamId, [{ ...a, data: { n: 99 } }], { expectedVersion: 'any' })).rejects.toBeInstanceOf(
        IdempotencyConflictError,
      );
      // The same id in another stream is a conflict too: event ids are global.
      await expect(store.append(newStream(), [a], { expectedVersion: 'any' })).rejects.toBeInstanceOf(
        IdempotencyConflictError,
      );
      expect(await countEvents(streamId)).toBe(1);
      expect(await store.streamVersion(streamId)).toBe(1);
    });
  });

  describe('bad input gets a typed error and writes nothing', () => {
    type Attempt = (streamId: string) => Promise<unknown>;
    const cases: [string, Attempt, new (...args: never[]) => Error][] = [
      ['empty stream id', () => store.append('', [happened(1)], { expectedVersion: 'any' }), InvalidEventError],
      ['empty event list', (id) => store.append(id, [], { expectedVersion: 'any' }), InvalidEventError],
      [
        'unknown event type',
        (id) => store.append(id, [{ eventId: randomUUID(), type: 'Nope', data: {} }], { expectedVersion: 'any' }),
        UnknownEventTypeError,
      ],
      [
        'payload failing its schema',
        (id) => store.append(id, [{ eventId: randomUUID(), type: 'ThingHappened', data: { n: 'x' } }], { expectedVersion: 'any' }),
        InvalidEventError,
      ],
      [
        'non-serialisable data',
        (id) => store.append(id, [{ eventId: randomUUID(), type: 'ThingHappened', data: { n: 1n } }], { expectedVersion: 'any' }),
        InvalidEventError,
      ],
      [
        'an event over 1 MiB',
        (id) =>
          store.append(id, [{ eventId: randomUUID(), type: 'ThingHappened', data: { n: 1, note: 'x'.repeat(1024 * 1024) } }], {
            expectedVersion: 'any',
          }),
        InvalidEventError,
      ],
      ['an invalid expectedVersion', (id) => store.append(id, [happened(1)], { expectedVersion: -1 }), InvalidEventError],
      [
        'a non-integer expectedVersion',
        (id) => store.append(id, [happened(1)], { expectedVersion: 'latest' as never }),
        InvalidEventError,
      ],
      ['an event id that is not a uuid', (id) => store.append(id, [happened(1, 'abc')], { expectedVersion: 'any' }), InvalidEventError],
      [
        'an event id repeated in one batch',
        (id) => {
          const eventId = randomUUID();
          return store.append(id, [happened(1, eventId), happened(2, eventId)], { expectedVersion: 'any' });
        },
        InvalidEventError,
      ],
    ];

    it.each(cases)('%s', async (_name, attempt, errorClass) => {
      const streamId = newStream();
      const err = await attempt(streamId).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(errorClass);
      expect((err as Error).message.length).toBeGreaterThan(10);
      expect(await countEvents(streamId)).toBe(0);
      expect(await store.streamVersion(streamId)).toBe(0);
    });
  });

  it('a connection dropped mid-append leaves none of the batch', async () => {
    const streamId = newStream();
    const victim = createPgClient('jest-victim');
    await victim.connect();
    victim.on('error', () => undefined);
    const pid = Number((await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    // Hold the stream's row lock from another transaction so the victim's append blocks mid-statement.
    const blocker = await db.transaction();
    await blocker.raw("INSERT INTO streams (stream_id, stream_type, version) VALUES (?, 'Thing', 0)", [streamId]);
    const pending = victim
      .query('SELECT * FROM append_events($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])', [
        streamId,
        'Thing',
        'any',
        [randomUUID(), randomUUID()],
        ['ThingHappened', 'ThingHappened'],
        [1, 1],
        ['{"n":1}', '{"n":2}'],
        ['{}', '{}'],
      ])
      .catch((e: unknown) => e);
    await waitFor(async () => {
      const { rows } = await db.raw<{ rows: { wait_event_type: string | null }[] }>(
        'SELECT wait_event_type FROM pg_stat_activity WHERE pid = ?',
        [pid],
      );
      return rows[0]?.wait_event_type === 'Lock';
    });
    await db.raw('SELECT pg_terminate_backend(?)', [pid]);
    expect(await pending).toBeInstanceOf(Error);
    await blocker.commit();
    await victim.end().catch(() => undefined);
    expect(await countEvents(streamId)).toBe(0);
    expect(await store.streamVersion(streamId)).toBe(0);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
