import { AssignerProtocol } from 'kafkajs';
import type { Knex } from 'knex';
import { orderStreamId } from '../../../domain';
import { kafkaTopicConfigs, kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { testLogger } from '../messaging/support';
import type { PostgresEventStore } from '../../../eventstore';
import type { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { PROJECTIONS, createReadModelSchema, rebuildProjections } from '../../../projections';
import { Supervisor } from '../../../workers/supervisor';
import { killInsideTransaction } from '../../support/kill-inside-transaction';
import { rowsOf, useAnalyticsProjectorWorld } from '../../support/analytics-projector-world';
import { appendOrderEvents, pickScenario, sampleOrderHistory, seededRandom } from '../../support/sample-orders';

/*
 * Two analytics projector processes in the one Kafka consumer group, sharing the topic's partitions:
 * every event applied once, an order's events in order (its key keeps it on one partition, so on one
 * member at a time), and the tables equal to a rebuild. One member is SIGKILLed inside a batch's
 * transaction mid-run and not restarted: the other takes over its partitions and finishes the work.
 * Its own database and Kafka topics (under a prefix of its own).
 */

const MEMBERS = ['analytics-projector-1', 'analytics-projector-2'] as const;
const NAMES = ['daily_sales', 'product_metrics'] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));


describe('two analytics projector processes in one consumer group (real Postgres and Kafka)', () => {
  let supervisor: Supervisor | undefined;
  const world = useAnalyticsProjectorWorld('pair', { beforeTeardown: async () => supervisor?.stop(2000) });
  const { consumer: CONSUMER, prefix: PREFIX, kafka, tag, database: DATABASE } = world;
  let db: Knex;
  let store: PostgresEventStore;
  let publisher: KafkaPublisher;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    ({ db, store, publisher, env } = world);
  });
  const lines = new Map<string, string[]>(MEMBERS.map((name) => [name, []]));

  const log = (): string => [...lines].flatMap(([name, of]) => of.slice(-15).map((line) => `[${name}] ${line}`)).join('\n');

  /** The group's members and the partitions of the event topic each holds, once it is stable. */
  async function assignment(): Promise<number[][]> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([CONSUMER]);
      const group = groups[0];
      if (group?.state !== 'Stable') return [];
      return group.members.map((member) => AssignerProtocol.MemberAssignment.decode(member.memberAssignment)?.assignment[kafkaTopics(PREFIX).orderEvents] ?? []);
    } finally {
      await admin.disconnect();
    }
  }

  async function waitForAssignment(what: string, done: (members: number[][]) => boolean, timeoutMs: number): Promise<number[][]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const members = await assignment();
      if (done(members)) return members;
      if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; last: ${JSON.stringify(members)}; log:\n${log()}`);
      await sleep(250);
    }
  }

  const processed = async (): Promise<number> =>
    Number((await db('processed_messages').where({ consumer_name: CONSUMER }).count<{ count: string }[]>('* as count'))[0]!.count);

  it('share the partitions, apply each event once, and the survivor takes the killed member’s partitions', async () => {
    // A member killed here stays dead: the other has to take its partitions over.
    supervisor = new Supervisor({ env, restartDelayMs: 10 * 60_000, onLine: (name, line) => lines.get(name)?.push(line) });
    supervisor.start(MEMBERS.map((name) => ({ name, entrypoint: 'workers/projector.ts', args: ['analytics'] })));
    const partitions = kafkaTopicConfigs(PREFIX).find((t) => t.topic === kafkaTopics(PREFIX).orderEvents)!.numPartitions ?? 1;
    const shared = await waitForAssignment('both members holding partitions', (m) => m.length === 2 && m.every((p) => p.length > 0), 90_000);
    expect(shared.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: partitions }, (_, i) => i));

    // Writers keep orders under way; some events are never published (fetched from the store later),
    // some twice; an order's last event always is.
    const random = seededRandom(29);
    const finalVersions = new Map<string, number>();
    const published = new Set<string>();
    let writing = true;
    let orderCount = 0;
    const writers = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (writing) {
          const orderId = `${tag}-pair-${orderCount++}`;
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
            for (const event of toPublish) published.add(event.eventId);
            await sleep(5);
          }
        }
      }),
    );

    // Both members at work, then one killed inside a batch's transaction.
    while ((await processed()) < 80) await sleep(100);
    const victim = MEMBERS[Math.floor(random() * MEMBERS.length)]!;
    const survivor = MEMBERS.find((name) => name !== victim)!;
    const killed = await killInsideTransaction(db, supervisor, { name: victim, database: DATABASE, applicationName: CONSUMER, attempts: 300, random });
    expect(killed).toBe(true);
    const killedAt = Date.now();
    const processedAtKill = await processed();

    // Once the group's session of the dead member runs out, the survivor holds every partition.
    const takenOver = await waitForAssignment('the survivor holding every partition', (m) => m.length === 1 && m[0]!.length === partitions, 60_000);
    const takeoverMs = Date.now() - killedAt;
    expect(takenOver[0]!.sort((a, b) => a - b)).toEqual(Array.from({ length: partitions }, (_, i) => i));
    expect(supervisor.pid(survivor)).toBeDefined();
    while ((await processed()) < processedAtKill + 80) await sleep(100);
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
      if (Date.now() > deadline) throw new Error(`orders behind: ${behind.join(', ')}; log:\n${log()}`);
      await sleep(200);
    }
    await supervisor.stop();

    // Every published event claimed by the group (the claims are its deduplication: one per event at
    // most), none that is no event of the log; the events never published were fetched to fill gaps.
    const claimed = new Set(await db('processed_messages').where({ consumer_name: CONSUMER }).pluck<string[]>('event_id'));
    const events = new Set(await db('events').pluck<string[]>('event_id'));
    expect([...published].filter((id) => !claimed.has(id))).toEqual([]);
    expect([...claimed].filter((id) => !events.has(id))).toEqual([]);

    // Applied once and in order per order: the sums and the per-order state equal a rebuild's.
    await createReadModelSchema(db, 'rebuilt');
    await rebuildProjections({ db, store, logger: testLogger('rebuild') }, NAMES, { schema: 'rebuilt' });
    for (const name of NAMES) {
      for (const table of PROJECTIONS[name].tables) {
        const live = await rowsOf(db, `public.${table}`);
        expect(live.length).toBeGreaterThan(0);
        expect(live).toEqual(await rowsOf(db, `rebuilt.${table}`));
      }
    }
    console.log(JSON.stringify({ orders: ids.length, events: events.size, published: published.size, victim, takeoverMs }));
  }, 240_000);
});
