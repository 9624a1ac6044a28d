import type { Knex } from 'knex';
import { orderStreamId } from '../../../domain';
import { testLogger } from '../messaging/support';
import type { PostgresEventStore } from '../../../eventstore';
import type { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { PROJECTIONS, createReadModelSchema, rebuildProjections } from '../../../projections';
import { Supervisor } from '../../../workers/supervisor';
import { killInsideTransaction } from '../../support/kill-inside-transaction';
import { rowsOf, useAnalyticsProjectorWorld } from '../../support/analytics-projector-world';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../../support/sample-orders';

/*
 * The analytics projector (Kafka, batches of 20 per partition chunk) as a real process, SIGKILLed inside
 * a batch's transaction while events flow, then restarted by the Supervisor: its read models end equal
 * to a rebuild from the event store. Its own database and Kafka topics (under a prefix of its own).
 */

const PROJECTOR = 'analytics-projector';
const NAMES = ['daily_sales', 'product_metrics'] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


describe('analytics projector process killed mid-batch (real Postgres and Kafka)', () => {
  let supervisor: Supervisor | undefined;
  const world = useAnalyticsProjectorWorld('kill', { beforeTeardown: async () => supervisor?.stop(2000) });
  const { consumer: CONSUMER, tag, database: DATABASE } = world;
  let db: Knex;
  let store: PostgresEventStore;
  let publisher: KafkaPublisher;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    ({ db, store, publisher, env } = world);
  });
  const lines: string[] = [];

  async function started(n: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (lines.filter((line) => line.includes('"projector started"')).length < n) {
      if (Date.now() > deadline) throw new Error(`projector start ${n} not seen; its log:\n${lines.slice(-30).join('\n')}`);
      await sleep(100);
    }
  }

  const processed = async (): Promise<number> =>
    Number((await db('processed_messages').where({ consumer_name: CONSUMER }).count<{ count: string }[]>('* as count'))[0]!.count);

  it('ends with the read models a rebuild from the event store makes', async () => {
    supervisor = new Supervisor({ env, restartDelayMs: 1500, onLine: (_name, line) => lines.push(line) });
    supervisor.start([{ name: PROJECTOR, entrypoint: 'workers/projector.ts', args: ['analytics'] }]);
    await started(1);

    // Writers keep orders under way; some events are never published (fetched from the store later),
    // some twice; an order's last event always is.
    const random = seededRandom(23);
    const finalVersions = new Map<string, number>();
    let writing = true;
    let orderCount = 0;
    const writers = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (writing) {
          const orderId = `${tag}-kill-${orderCount++}`;
          const history = sampleOrderHistory({
            orderId,
            customerId: `cust-${orderId.slice(-1)}`,
            currency: 'USD',
            skus: ['SKU-A', 'SKU-B', 'SKU-C'],
            scenario: pickScenario(random),
            startsAt: new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 10) * 86_400_000),
            random,
          });
          finalVersions.set(orderId, history.length);
          for (let version = 0; version < history.length; ) {
            const n = Math.min(history.length - version, 1 + Math.floor(random() * 3));
            await appendOrderEvents(store, orderId, history.slice(version, version + n), version);
            const appended = await store.readStream(orderStreamId(orderId), { fromVersion: version + 1, limit: n });
            version += n;
            const toPublish = appended.flatMap((event) => {
              const roll = random();
              if (event.streamVersion !== history.length && roll < 0.15) return [];
              return roll > 0.9 ? [event, event] : [event];
            });
            if (toPublish.length > 0) await publisher.publish(toPublish);
            await sleep(5);
          }
        }
      }),
    );

    while ((await processed()) < 60) await sleep(100);
    const killedInTransaction = await killInsideTransaction(db, supervisor, { name: PROJECTOR, database: DATABASE, applicationName: CONSUMER, attempts: 300, random });
    expect(killedInTransaction).toBe(true);
    const processedAtKill = await processed();
    await started(2);
    expect(supervisor.restarts(PROJECTOR)).toBe(1);
    while ((await processed()) < processedAtKill + 60) await sleep(100);
    writing = false;
    await writers;

    // Caught up: every order at its last version in both version tables.
    const ids = [...finalVersions.keys()];
    for (const deadline = Date.now() + 90_000; ; ) {
      const behind = await Promise.all(
        NAMES.map(async (name) => {
          const { rows } = await db.raw<{ rows: { order_id: string; last_version: string }[] }>(
            'SELECT order_id, last_version FROM ?? WHERE order_id = ANY (?)',
            [PROJECTIONS[name].versionTable, ids],
          );
          const applied = new Map(rows.map((r) => [r.order_id, Number(r.last_version)]));
          return ids.filter((id) => applied.get(id) !== finalVersions.get(id)).length;
        }),
      );
      if (behind.every((n) => n === 0)) break;
      if (Date.now() > deadline) throw new Error(`orders behind: ${behind.join(', ')}; log:\n${lines.slice(-20).join('\n')}`);
      await sleep(200);
    }
    await supervisor.stop();

    // Batches happened: the claims of one transaction share its now().
    const { rows: groups } = await db.raw<{ rows: { n: string }[] }>(
      'SELECT count(*) AS n FROM processed_messages WHERE consumer_name = ? GROUP BY processed_at',
      [CONSUMER],
    );
    expect(Math.max(...groups.map((r) => Number(r.n)))).toBeGreaterThan(1);

    await createReadModelSchema(db, 'rebuilt');
    await rebuildProjections({ db, store, logger: testLogger('rebuild') }, NAMES, { schema: 'rebuilt' });
    for (const name of NAMES) {
      for (const table of PROJECTIONS[name].tables) {
        const live = await rowsOf(db, `public.${table}`);
        expect(live.length).toBeGreaterThan(0);
        expect(live).toEqual(await rowsOf(db, `rebuilt.${table}`));
      }
    }
  }, 240_000);
});
