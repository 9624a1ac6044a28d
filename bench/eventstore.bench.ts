/**
 * npm run bench:eventstore: our event store against raw SQL on the same server, in one run.
 *  (a) single-event appends, 16 writers over 1,000 streams  vs  raw single-row INSERTs
 *  (b) batched appends of 10 events                          vs  raw 10-row INSERTs
 *  (c) gap-free read-all catch-up                             vs  raw keyset SELECT
 * The raw table is a copy of `events` with the same columns, defaults and indexes.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { PostgresEventStore, START_OF_LOG, type NewEvent } from '../eventstore';
import { freshBenchDatabase, round, throughput } from './support';
import { testRegistry } from '../test/support/test-events';

const WRITERS = 16;
const STREAMS = 1000;
const SINGLE_EVENTS = Number(process.env.BENCH_SINGLE_EVENTS ?? 20_000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 2_000);
const BATCH_SIZE = 10;

const payload = (n: number): { n: number; note: string } => ({ n, note: 'a typical small payload of an event' });
const event = (n: number): NewEvent => ({ eventId: randomUUID(), type: 'ThingHappened', data: payload(n), metadata: { correlationId: 'bench' } });

async function main(): Promise<void> {
  const db = await freshBenchDatabase('orders_bench_eventstore', WRITERS);
  await db.raw('CREATE TABLE raw_events (LIKE events INCLUDING ALL)');
  const store = new PostgresEventStore(db, testRegistry());

  // Streams are split among writers, so each writer knows its streams' versions exactly.
  const versions = new Map<string, number>();
  const streamFor = (i: number, worker: number): string => `Thing-${worker}-${Math.floor(i / WRITERS) % Math.ceil(STREAMS / WRITERS)}`;

  const ours = async (i: number, worker: number, size: number): Promise<void> => {
    const streamId = streamFor(i, worker);
    const version = versions.get(streamId) ?? 0;
    const batch = Array.from({ length: size }, (_, k) => event(i * size + k));
    const result = await store.append(streamId, batch, { expectedVersion: version === 0 ? 'no_stream' : version });
    versions.set(streamId, result.nextExpectedVersion);
  };
  const rawVersions = new Map<string, number>();
  const raw = async (i: number, worker: number, size: number): Promise<void> => {
    const streamId = streamFor(i, worker);
    const version = rawVersions.get(streamId) ?? 0;
    const rows = Array.from({ length: size }, (_, k) => ({
      stream_id: streamId,
      stream_type: 'Thing',
      stream_version: version + k + 1,
      event_id: randomUUID(),
      event_type: 'ThingHappened',
      schema_version: 1,
      data: JSON.stringify(payload(i * size + k)),
      metadata: JSON.stringify({ correlationId: 'bench' }),
    }));
    await db('raw_events').insert(rows);
    rawVersions.set(streamId, version + size);
  };

  // Warm both paths (connections, plans, caches) before measuring.
  await throughput(500, WRITERS, (i, w) => ours(i, w, 1));
  await throughput(500, WRITERS, (i, w) => raw(i, w, 1));

  // Interleave the measurements so that drift on the machine hits both sides alike.
  const single = { ours: 0, raw: 0 };
  const batched = { ours: 0, raw: 0 };
  for (let round = 0; round < 2; round++) {
    single.raw += (await throughput(SINGLE_EVENTS / 2, WRITERS, (i, w) => raw(i + 1e6 * (round + 1), w, 1))) / 2;
    single.ours += (await throughput(SINGLE_EVENTS / 2, WRITERS, (i, w) => ours(i + 1e6 * (round + 1), w, 1))) / 2;
    batched.raw += ((await throughput(BATCHES / 2, WRITERS, (i, w) => raw(i + 1e7 * (round + 1), w, BATCH_SIZE))) * BATCH_SIZE) / 2;
    batched.ours += ((await throughput(BATCHES / 2, WRITERS, (i, w) => ours(i + 1e7 * (round + 1), w, BATCH_SIZE))) * BATCH_SIZE) / 2;
  }
  console.log(`append single   ours ${round(single.ours, 0)} events/s   raw INSERT ${round(single.raw, 0)} events/s`);
  console.log(`append batch10  ours ${round(batched.ours, 0)} events/s   raw INSERT ${round(batched.raw, 0)} events/s`);

  const read = await measureReads(db, store);
  console.log(`read-all        ours ${round(read.ours, 0)} events/s   raw keyset SELECT ${round(read.raw, 0)} events/s (${read.events} events)`);

  const result = {
    append_single_per_s: round(single.ours, 0),
    raw_insert_single_per_s: round(single.raw, 0),
    append_single_ratio: round(single.ours / single.raw),
    append_batch_per_s: round(batched.ours, 0),
    raw_insert_batch_per_s: round(batched.raw, 0),
    append_batch_ratio: round(batched.ours / batched.raw),
    read_all_per_s: round(read.ours, 0),
    raw_read_per_s: round(read.raw, 0),
    read_all_ratio: round(read.ours / read.raw),
    writers: WRITERS,
    streams: STREAMS,
  };
  await db.destroy();
  console.log(JSON.stringify(result));
}

async function measureReads(db: Knex, store: PostgresEventStore): Promise<{ ours: number; raw: number; events: number }> {
  const page = 1000;
  const timeIt = async (fn: () => Promise<number>): Promise<[number, number]> => {
    const started = process.hrtime.bigint();
    const n = await fn();
    return [n, n / (Number(process.hrtime.bigint() - started) / 1e9)];
  };
  const oursRead = async (): Promise<number> => {
    let checkpoint = START_OF_LOG;
    let n = 0;
    for (;;) {
      const result = await store.readAll({ after: checkpoint, limit: page });
      if (result.events.length === 0) return n;
      n += result.events.length;
      checkpoint = result.checkpoint;
    }
  };
  const rawRead = async (): Promise<number> => {
    let after = '0';
    let n = 0;
    for (;;) {
      const { rows } = await db.raw<{ rows: { global_position: string }[] }>(
        `SELECT global_position, transaction_id, stream_id, stream_type, stream_version, event_id, event_type,
                schema_version, data, metadata, recorded_at
           FROM events WHERE global_position > ? ORDER BY global_position LIMIT ?`,
        [after, page],
      );
      if (rows.length === 0) return n;
      n += rows.length;
      after = rows[rows.length - 1]!.global_position;
    }
  };
  await rawRead();
  await oursRead();
  let ours = 0;
  let raw = 0;
  let events = 0;
  for (let i = 0; i < 2; i++) {
    const [n, r] = await timeIt(rawRead);
    const [, o] = await timeIt(oursRead);
    raw += r / 2;
    ours += o / 2;
    events = n;
  }
  return { ours, raw, events };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
