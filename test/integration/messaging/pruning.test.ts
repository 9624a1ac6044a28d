import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import pino from 'pino';
import { ORDER_EVENT_DEFINITIONS, orderStreamId } from '../../../domain';
import { EventRegistry, PostgresEventStore } from '../../../eventstore';
import { pruneIdempotencyKeys } from '../../../api/idempotency';
import { hoursToMs, startPeriodicPruning } from '../../../infra/retention';
import { toEnvelope } from '../../../messaging/envelope';
import { processOnce, pruneProcessedMessages } from '../../../messaging/idempotent-consumer';
import { ProjectionRunner, createReadModelSchema, dropReadModelSchema, type ApplyResult } from '../../../projections';
import { appendOrderEvents, sampleOrderHistory, seededRandom } from '../../support/sample-orders';
import { openTestDatabase } from '../../support/postgres';

const WEEK_MS = hoursToMs(168);
const quiet = pino({ level: 'silent' });

/** Claims of a consumer, `ageHours` old. */
async function claim(db: Knex, consumer: string, ageHours: number, count = 1): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await db.raw(
    `INSERT INTO processed_messages (consumer_name, event_id, processed_at)
     SELECT ?, id, now() - (? || ' hours')::interval FROM unnest(?::uuid[]) AS id`,
    [consumer, ageHours, ids],
  );
  return ids;
}

async function claimsOf(db: Knex, consumer: string): Promise<string[]> {
  const rows = await db('processed_messages').where({ consumer_name: consumer }).select<{ event_id: string }[]>('event_id');
  return rows.map((r) => r.event_id).sort();
}

async function rowsOf(db: Knex, table: string): Promise<unknown[]> {
  const { rows } = await db.raw<{ rows: { row: unknown }[] }>(`SELECT to_jsonb(t) AS row FROM ${table} t`);
  return rows.map((r) => JSON.stringify(r.row)).sort();
}

describe('pruning the deduplication records (real Postgres)', () => {
  let db: Knex;
  const consumers: string[] = [];
  const newConsumer = (): string => {
    const name = `prune-test-${randomUUID().slice(0, 8)}`;
    consumers.push(name);
    return name;
  };

  beforeAll(async () => {
    db = await openTestDatabase(4);
  });
  afterAll(async () => {
    await db('processed_messages').whereIn('consumer_name', consumers).delete();
    await db?.destroy();
  });

  it("deletes a consumer's claims older than the retention and keeps recent ones and other consumers'", async () => {
    const [mine, other] = [newConsumer(), newConsumer()];
    await claim(db, mine, 200, 3);
    const recent = await claim(db, mine, 1, 2);
    const othersOld = await claim(db, other, 200, 2);

    expect(await pruneProcessedMessages(db, { consumerName: mine, olderThanMs: WEEK_MS })).toBe(3);
    expect(await claimsOf(db, mine)).toEqual([...recent].sort());
    expect(await claimsOf(db, other)).toEqual([...othersOld].sort());
  });

  it('deletes at most a batch per statement, and a run works off a backlog batch by batch', async () => {
    const consumer = newConsumer();
    await claim(db, consumer, 500, 7);
    expect(await pruneProcessedMessages(db, { consumerName: consumer, olderThanMs: WEEK_MS, batchSize: 3 })).toBe(3);
    expect(await claimsOf(db, consumer)).toHaveLength(4);

    const batches: number[] = [];
    const pruning = startPeriodicPruning({
      name: 'processed_messages',
      prune: async (batchSize) => {
        const n = await pruneProcessedMessages(db, { consumerName: consumer, olderThanMs: WEEK_MS, batchSize });
        batches.push(n);
        return n;
      },
      intervalMs: 60_000,
      logger: quiet,
      batchSize: 3,
      maxBatchesPerRun: 5,
    });
    try {
      expect(await pruning.runOnce()).toBe(4);
      expect(batches).toEqual([3, 1]);
      expect(await claimsOf(db, consumer)).toEqual([]);
    } finally {
      await pruning.stop();
    }
  });

  it('runs periodically and logs a failure instead of stopping', async () => {
    let calls = 0;
    const warnings: unknown[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const pruning = startPeriodicPruning({
      name: 'flaky',
      prune: async () => {
        calls++;
        if (calls === 1) throw new Error('database unavailable');
        return 0;
      },
      intervalMs: 100,
      logger,
    });
    try {
      const deadline = Date.now() + 5000;
      while (calls < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(warnings).toContainEqual(expect.objectContaining({ table: 'flaky', err: 'database unavailable', msg: 'pruning failed; retrying at the next run' }));
    } finally {
      await pruning.stop();
    }
  });

  it("a redelivery of an event whose claim was pruned runs the handler again, and the projector's read models skip it", async () => {
    // What workers/projector.ts relies on when it prunes: the read models' per-order versions, not the
    // claim, keep an event from being applied twice (a DLQ replay or a reset offset after the retention).
    const consumer = newConsumer();
    const schema = `prune_test_${randomUUID().slice(0, 8)}`;
    await createReadModelSchema(db, schema);
    try {
      const store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS), { notifyAppends: false });
      const runner = new ProjectionRunner({ db, store, schema, logger: quiet });
      const tag = randomUUID().slice(0, 8);
      const orderId = `prune-${tag}`;
      const history = sampleOrderHistory({
        orderId,
        customerId: `cust-${tag}`,
        currency: 'QPR',
        skus: [`SKU-${tag}-0`, `SKU-${tag}-1`],
        scenario: 'delivered',
        startsAt: new Date('2024-04-01T10:00:00.000Z'),
        random: seededRandom(18),
      });
      await appendOrderEvents(store, orderId, history, 0);
      const envelopes = (await store.readStream(orderStreamId(orderId))).map(toEnvelope);
      const deliver = async (envelope: (typeof envelopes)[number]) =>
        processOnce(db, consumer, envelope.eventId, async (trx) => {
          const results: ApplyResult[] = [];
          for (const name of ['daily_sales', 'order_view'] as const) results.push(await runner.applyInTransaction(trx, name, [envelope]));
          return results;
        });

      for (const envelope of envelopes) expect(await deliver(envelope)).toMatchObject({ applied: true });
      const tables = [`${schema}.daily_sales`, `${schema}.order_view`, `${schema}.daily_sales_applied`];
      const before = await Promise.all(tables.map((t) => rowsOf(db, t)));
      // A duplicate within the retention is skipped by its claim.
      expect(await deliver(envelopes[0]!)).toEqual({ applied: false });

      await db('processed_messages').where({ consumer_name: consumer }).update({ processed_at: db.raw("now() - interval '200 hours'") });
      expect(await pruneProcessedMessages(db, { consumerName: consumer, olderThanMs: WEEK_MS })).toBe(envelopes.length);

      for (const envelope of envelopes) {
        const outcome = await deliver(envelope);
        expect(outcome.applied).toBe(true);
        if (outcome.applied) for (const result of outcome.result) expect(result).toMatchObject({ applied: 0, duplicates: 1 });
      }
      expect(await Promise.all(tables.map((t) => rowsOf(db, t)))).toEqual(before);
      // The redelivery claimed the events again, so the next duplicate is skipped by its claim once more.
      expect(await claimsOf(db, consumer)).toHaveLength(envelopes.length);
    } finally {
      await dropReadModelSchema(db, schema);
    }
  });

  it('deletes idempotency keys older than the retention and keeps recent ones', async () => {
    const scope = `prune-test-${randomUUID().slice(0, 8)}`;
    const row = (key: string, ageHours: number) => ({
      scope,
      subject: 'cust',
      key,
      fingerprint: Buffer.alloc(32),
      request: 'POST /orders',
      created_at: db.raw(`now() - (? || ' hours')::interval`, [ageHours]),
    });
    await db('idempotency_keys').insert([row('old-1', 200), row('old-2', 170), row('recent', 2)]);
    try {
      // Other tests' keys in the same database may be pruned too: count only ours.
      await pruneIdempotencyKeys(db, { olderThanMs: WEEK_MS });
      const left = await db('idempotency_keys').where({ scope }).select<{ key: string }[]>('key');
      expect(left.map((r) => r.key)).toEqual(['recent']);
    } finally {
      await db('idempotency_keys').where({ scope }).delete();
    }
  });
});
