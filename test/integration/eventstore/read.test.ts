import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import {
  PostgresEventStore,
  listenForAppends,
  loadCheckpoint,
  saveCheckpoint,
  subscribe,
  type GlobalCheckpoint,
  type NewEvent,
  type StoredEvent,
} from '../../../eventstore';
import { createPgClient } from '../../../infra';
import { openTestDatabase } from '../../support/postgres';
import { testRegistry } from '../../support/test-events';

const happened = (n: number): NewEvent => ({ eventId: randomUUID(), type: 'ThingHappened', data: { n } });

describe('event store reads (real Postgres)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  beforeAll(async () => {
    db = await openTestDatabase();
    store = new PostgresEventStore(db, testRegistry());
  });
  afterAll(() => db?.destroy());

  /** The checkpoint at the current end of the log, so a test sees only its own events. */
  async function checkpointAtHead(): Promise<GlobalCheckpoint> {
    const { rows } = await db.raw<{ rows: { txid: string; global_position: string }[] }>(
      `SELECT transaction_id::text AS txid, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row ? { transactionId: BigInt(row.txid), globalPosition: BigInt(row.global_position) } : { transactionId: 0n, globalPosition: 0n };
  }

  async function readAllFrom(from: GlobalCheckpoint, streamIds: Set<string>): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    let checkpoint = from;
    for (;;) {
      const page = await store.readAll({ after: checkpoint, limit: 100 });
      out.push(...page.events.filter((e) => streamIds.has(e.streamId)));
      if (page.events.length === 0) return out;
      checkpoint = page.checkpoint;
    }
  }

  it('never skips an event that commits late: B (later position) waits until A commits, then A comes first', async () => {
    const start = await checkpointAtHead();
    const streamA = `Thing-${randomUUID()}`;
    const streamB = `Thing-${randomUUID()}`;
    const ours = new Set([streamA, streamB]);

    // A takes its position first and stays open.
    const trxA = await db.transaction();
    const a = await new PostgresEventStore(trxA as unknown as Knex, testRegistry(), { notifyAppends: false }).append(streamA, [happened(1)], {
      expectedVersion: 'no_stream',
    });
    // B takes a later position and commits.
    const b = await store.append(streamB, [happened(2)], { expectedVersion: 'no_stream' });
    expect(b.firstPosition).toBeGreaterThan(a.firstPosition);

    // While A is open the reader must deliver neither A nor B: delivering B would move the
    // checkpoint past A, which would then be lost.
    expect(await readAllFrom(start, ours)).toEqual([]);
    await trxA.commit();

    // Other transactions on a shared server can hold the reader back a little longer: poll.
    let delivered: StoredEvent[] = [];
    await waitForAsync(async () => (delivered = await readAllFrom(start, ours)).length >= 2);
    expect(delivered.map((e) => e.streamId)).toEqual([streamA, streamB]);
  });

  it('orders the global log by transaction id as a number, not as text', async () => {
    const category = `Order${randomUUID().slice(0, 8)}`;
    // Transaction ids 9 and 10 sort the other way round as text.
    for (const [txid, n] of [['10', 2], ['9', 1]] as const) {
      await db('events').insert({
        transaction_id: txid,
        stream_id: `${category}-${n}`,
        stream_type: category,
        stream_version: 1,
        event_id: randomUUID(),
        event_type: 'ThingHappened',
        schema_version: 1,
        data: JSON.stringify({ n }),
      });
    }
    const page = await store.readAll({ after: { transactionId: 0n, globalPosition: 0n }, streamType: category });
    expect(page.events.map((e) => e.transactionId)).toEqual([9n, 10n]);
  });

  it('reads one category only', async () => {
    const start = await checkpointAtHead();
    const thing = `Thing-${randomUUID()}`;
    const other = `Gadget-${randomUUID()}`;
    await store.append(thing, [happened(1)], { expectedVersion: 'any' });
    await store.append(other, [happened(2)], { expectedVersion: 'any' });
    let page = await store.readAll({ after: start, streamType: 'Gadget' });
    await waitForAsync(async () => (page = await store.readAll({ after: start, streamType: 'Gadget' })).events.some((e) => e.streamId === other));
    expect(page.events.map((e) => e.streamId).filter((id) => id === other || id === thing)).toEqual([other]);
  });

  it('reads a stored v1 event back as v2 through its upcaster', async () => {
    const streamId = `Thing-${randomUUID()}`;
    // Written as an older release of the app would have: schema version 1.
    await db('streams').insert({ stream_id: streamId, stream_type: 'Thing', version: 1 });
    await db('events').insert({
      stream_id: streamId,
      stream_type: 'Thing',
      stream_version: 1,
      event_id: randomUUID(),
      event_type: 'ThingRenamed',
      schema_version: 1,
      data: JSON.stringify({ name: 'Ada' }),
    });
    const [event] = await store.readStream(streamId);
    expect(event).toMatchObject({ type: 'ThingRenamed', schemaVersion: 2, data: { fullName: 'Ada', renamedBy: 'unknown' } });
    // New events are written at the current version and validated against it.
    await store.append(streamId, [{ eventId: randomUUID(), type: 'ThingRenamed', data: { fullName: 'Grace', renamedBy: 'me' } }], {
      expectedVersion: 1,
    });
    const { rows } = await db.raw<{ rows: { schema_version: number }[] }>(
      'SELECT schema_version FROM events WHERE stream_id = ? ORDER BY stream_version',
      [streamId],
    );
    expect(rows.map((r) => r.schema_version)).toEqual([1, 2]);
  });

  it('reads a 10k-event stream back in order, forward and backward', async () => {
    const streamId = `Thing-${randomUUID()}`;
    for (let batch = 0; batch < 10; batch++) {
      const events = Array.from({ length: 1000 }, (_, i) => happened(batch * 1000 + i + 1));
      await store.append(streamId, events, { expectedVersion: batch * 1000 });
    }
    const forward = await store.readStream(streamId);
    expect(forward).toHaveLength(10_000);
    expect(forward.every((e, i) => e.streamVersion === i + 1 && (e.data as { n: number }).n === i + 1)).toBe(true);
    const backward = await store.readStream(streamId, { direction: 'backward', limit: 3 });
    expect(backward.map((e) => e.streamVersion)).toEqual([10_000, 9_999, 9_998]);
    const middle = await store.readStream(streamId, { fromVersion: 5000, limit: 2 });
    expect(middle.map((e) => e.streamVersion)).toEqual([5000, 5001]);
  }, 120_000);

  describe('subscriptions', () => {
    let listener: PgClient;
    beforeAll(async () => {
      listener = await listenForAppends(createPgClient('jest-listener'));
    });
    afterAll(() => listener?.end());

    it('catches up from a checkpoint, then follows new appends quickly (LISTEN/NOTIFY), in order', async () => {
      const streamType = `Sub${randomUUID().slice(0, 8)}`;
      const streamId = `${streamType}-1`;
      await store.append(streamId, [happened(1), happened(2)], { expectedVersion: 'no_stream' });
      const seen: number[] = [];
      const latencies: number[] = [];
      let appendedAt = 0;
      const subscriptionId = `test-${streamType}`;
      const subscription = subscribe(store, listener, {
        from: await loadCheckpoint(db, subscriptionId),
        streamType,
        // A long poll interval: only the notification can explain a fast delivery.
        maxPollIntervalMs: 10_000,
        handle: async (events, checkpoint) => {
          seen.push(...events.map((e) => (e.data as { n: number }).n));
          if (appendedAt) latencies.push(Date.now() - appendedAt);
          await saveCheckpoint(db, subscriptionId, checkpoint);
        },
      });
      await waitFor(() => seen.length === 2);
      appendedAt = Date.now();
      await store.append(streamId, [happened(3)], { expectedVersion: 2 });
      await waitFor(() => seen.length === 3);
      await subscription.stop();
      expect(seen).toEqual([1, 2, 3]);
      expect(latencies[0]).toBeLessThan(2000);
      expect((await loadCheckpoint(db, subscriptionId)).globalPosition).toBe(subscription.checkpoint.globalPosition);
    });
  });
});

async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
