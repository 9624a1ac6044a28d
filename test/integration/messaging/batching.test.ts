import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Knex } from 'knex';
import type { StoredEvent } from '../../../eventstore';
import { connectRabbitMq } from '../../../infra';
import { peekParked } from '../../../messaging/rabbitmq/dlq-rabbitmq';
import { encodeEvent, type EventEnvelope } from '../../../messaging/envelope';
import type { BatchEventHandler, EventHandler } from '../../../messaging/handler';
import { KafkaEventConsumer } from '../../../messaging/kafka/kafka-consumer';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { RabbitMqConsumer } from '../../../messaging/rabbitmq/rabbitmq-consumer';
import { publishOptions } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { parkingQueueName, retryQueueName } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  createTestTopic,
  deleteTestTopics,
  openKafkaTap,
  testKafka,
  testLogger,
  uniqueName,
  unstoredOrderEvents,
  waitFor,
} from './support';

/*
 * Batching consumers on the real brokers and Postgres. Each effect row records the transaction that
 * wrote it (txid_current()), so a test sees how many transactions a set of deliveries took, and an event
 * applied twice shows up as two rows. The RabbitMQ queues are bound to a routing key nobody publishes
 * (messages go straight to the test's own queue); the Kafka topics are the test's own.
 */

const TABLE = 'messaging_batching_test_effects';

async function record(trx: Knex.Transaction, consumer: string, envelope: EventEnvelope): Promise<void> {
  await trx.raw(`INSERT INTO ${TABLE} (consumer, event_id, txid) VALUES (?, ?, txid_current())`, [consumer, envelope.eventId]);
}

async function effects(db: Knex, consumer: string): Promise<{ perEvent: Map<string, number>; transactions: number; total: number }> {
  const { rows } = await db.raw<{ rows: { event_id: string; txid: string }[] }>(`SELECT event_id::text, txid::text FROM ${TABLE} WHERE consumer = ?`, [consumer]);
  const perEvent = new Map<string, number>();
  for (const row of rows) perEvent.set(row.event_id, (perEvent.get(row.event_id) ?? 0) + 1);
  return { perEvent, transactions: new Set(rows.map((r) => r.txid)).size, total: rows.length };
}

/** Each of `ids` applied exactly once, and nothing else. */
function expectAppliedOnce(perEvent: Map<string, number>, ids: readonly string[]): void {
  expect(new Map([...perEvent].sort())).toEqual(new Map(ids.map((id) => [id, 1] as const).sort()));
}

/** Records every call and fails for one event until fixed. */
function failingFor(consumer: string, poisonId: string | undefined) {
  const calls: string[] = [];
  const handler: EventHandler = async (envelope, { trx }) => {
    calls.push(envelope.eventId);
    if (envelope.eventId === poisonId) throw new Error(`cannot handle v${envelope.streamVersion}`);
    await record(trx, consumer, envelope);
  };
  return { calls, handler };
}

describe('batching consumers (real brokers and Postgres)', () => {
  let db: Knex;
  const logger = testLogger('batching-test');

  beforeAll(async () => {
    requireService('postgres');
    db = await openTestDatabase();
    await db.raw(`CREATE TABLE IF NOT EXISTS ${TABLE} (seq bigserial PRIMARY KEY, consumer text NOT NULL, event_id uuid NOT NULL, txid bigint NOT NULL)`);
  });
  afterAll(() => db?.destroy());

  describe('RabbitMQ', () => {
    let connection: ChannelModel;
    let channel: ConfirmChannel;
    const queues: string[] = [];

    beforeAll(async () => {
      requireService('rabbitmq');
      connection = await connectRabbitMq('test-batching');
      channel = await connection.createConfirmChannel();
    });
    afterAll(async () => {
      for (const queue of queues) {
        for (const name of [queue, parkingQueueName(queue), retryQueueName(queue, 200)]) await channel?.deleteQueue(name).catch(() => undefined);
      }
      await connection?.close();
    });

    async function send(queue: string, events: readonly StoredEvent[]): Promise<void> {
      for (const event of events) {
        const encoded = encodeEvent(event);
        channel.sendToQueue(queue, encoded.body, publishOptions(encoded));
      }
      await channel.waitForConfirms();
    }

    const start = (consumerName: string, options: Partial<Parameters<typeof RabbitMqConsumer.start>[0]> & { handler: EventHandler }) => {
      queues.push(consumerName);
      return RabbitMqConsumer.start({
        consumerName,
        bindingKeys: [`BatchingTest.${consumerName}`],
        db,
        retryDelaysMs: [200],
        maxAttempts: 2,
        logger,
        ...options,
      });
    };

    it('applies a batch in one transaction, acks it after the commit, and skips the batch when it is delivered again', async () => {
      const consumerName = uniqueName('test-batching');
      const events = [...unstoredOrderEvents(6), ...unstoredOrderEvents(4)];
      const batches: number[] = [];
      const outcomes: string[] = [];
      const batchHandler: BatchEventHandler = async (deliveries, { trx }) => {
        batches.push(deliveries.length);
        for (const { envelope } of deliveries) await record(trx, consumerName, envelope);
      };
      const consumer = await start(consumerName, {
        handler: failingFor(consumerName, undefined).handler,
        batchHandler,
        batchSize: 10,
        lingerMs: 1000,
        observer: { delivered: (outcome) => outcomes.push(outcome) },
      });
      try {
        await send(consumerName, events);
        const applied = await waitFor('the batch', () => effects(db, consumerName), (e) => e.total >= events.length, 10_000);
        expectAppliedOnce(applied.perEvent, events.map((e) => e.eventId));
        // A full batch goes at once (no linger), in one transaction.
        expect(applied.transactions).toBe(1);
        expect(batches).toEqual([10]);
        await waitFor('outcomes', async () => outcomes.length, (n) => n === 10, 5000);
        expect(outcomes).toEqual(Array(10).fill('processed'));

        // The same deliveries again (plus one event twice within the batch), as after a lost multiple ack.
        await send(consumerName, [...events, events[0]!]);
        await waitFor('the redelivered batch', async () => outcomes.length, (n) => n === 21, 10_000);
        expect(outcomes.slice(10)).toEqual(Array(11).fill('duplicate'));
        expectAppliedOnce((await effects(db, consumerName)).perEvent, events.map((e) => e.eventId));
      } finally {
        await consumer.stop();
      }
      // Everything was acked: nothing went back to the queue when the consumer's channel closed.
      expect((await channel.checkQueue(consumerName)).messageCount).toBe(0);
    });

    it('a batch that waits for the linger goes as it is', async () => {
      const consumerName = uniqueName('test-batching-linger');
      const events = unstoredOrderEvents(3);
      const { handler } = failingFor(consumerName, undefined);
      const consumer = await start(consumerName, { handler, batchSize: 50, lingerMs: 100 });
      try {
        const sent = Date.now();
        await send(consumerName, events);
        const applied = await waitFor('the short batch', () => effects(db, consumerName), (e) => e.total >= 3, 5000);
        expect(Date.now() - sent).toBeGreaterThanOrEqual(100);
        expect(applied.transactions).toBe(1);
        expectAppliedOnce(applied.perEvent, events.map((e) => e.eventId));
      } finally {
        await consumer.stop();
      }
    });

    it('parks a poison message in the middle of a batch on its own; its neighbours are applied exactly once', async () => {
      const consumerName = uniqueName('test-batching-poison');
      const events = [...unstoredOrderEvents(5), ...unstoredOrderEvents(4)];
      const poison = events[4]!;
      const { calls, handler } = failingFor(consumerName, poison.eventId);
      const failures: string[] = [];
      const consumer = await start(consumerName, {
        handler,
        batchSize: 9,
        lingerMs: 1000,
        observer: { failed: (_err, parked) => failures.push(parked ? 'park' : 'retry') },
      });
      try {
        await send(consumerName, events);
        const parked = await waitFor('the poison parked', () => peekParked(channel, consumerName), (l) => l.length === 1, 10_000);
        expect(parked[0]).toMatchObject({ messageId: poison.eventId, failedAttempts: 2, error: 'cannot handle v5' });
        expect(failures).toEqual(['retry', 'park']);
        const others = events.filter((e) => e !== poison).map((e) => e.eventId);
        const applied = await effects(db, consumerName);
        expectAppliedOnce(applied.perEvent, others);
        // The batch was rolled back, then each message went in a transaction of its own.
        expect(applied.transactions).toBe(8);
        // The poison was tried in the batch, alone, and alone again from the retry queue.
        expect(calls.filter((id) => id === poison.eventId)).toHaveLength(3);
        const { rows } = await db.raw<{ rows: { n: string }[] }>('SELECT count(*) AS n FROM processed_messages WHERE consumer_name = ? AND event_id = ?', [consumerName, poison.eventId]);
        expect(Number(rows[0]!.n)).toBe(0);
      } finally {
        await consumer.stop();
      }
      expect((await channel.checkQueue(consumerName)).messageCount).toBe(0);
    });

    it('batch size 1 is one transaction per delivery', async () => {
      const consumerName = uniqueName('test-batching-one');
      const events = unstoredOrderEvents(5);
      const consumer = await start(consumerName, { handler: failingFor(consumerName, undefined).handler, batchSize: 1 });
      try {
        await send(consumerName, events);
        const applied = await waitFor('the deliveries', () => effects(db, consumerName), (e) => e.total >= 5, 10_000);
        expect(applied.transactions).toBe(5);
        expectAppliedOnce(applied.perEvent, events.map((e) => e.eventId));
      } finally {
        await consumer.stop();
      }
    });
  });

  describe('Kafka', () => {
    const kafka = testKafka('batching');
    const groups: string[] = [];
    let topic: string;
    let dlqTopic: string;
    let publisher: KafkaPublisher;

    beforeAll(async () => {
      requireService('kafka');
      topic = await createTestTopic(kafka, 'test-batching-events', 1);
      dlqTopic = await createTestTopic(kafka, 'test-batching-events.dlq', 1);
      publisher = new KafkaPublisher({ logger, topic });
    });
    afterAll(async () => {
      await publisher?.close();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups(groups).catch(() => undefined);
      await admin.disconnect();
      await deleteTestTopics(kafka, [topic, dlqTopic]);
    });

    it('applies a partition batch in chunks of one transaction each; a poison in a chunk is parked alone; a redelivered chunk is skipped', async () => {
      const groupId = uniqueName('test-batching-group');
      groups.push(groupId);
      const events = unstoredOrderEvents(12);
      const poison = events[7]!;
      const { calls, handler } = failingFor(groupId, poison.eventId);
      const outcomes: string[] = [];
      const dlqTap = await openKafkaTap(dlqTopic);
      // Published before the group starts: its first fetch holds all twelve.
      await publisher.publish(events);
      const consumer = await KafkaEventConsumer.start({
        groupId,
        db,
        handler,
        batchSize: 6,
        retryDelaysMs: [100],
        maxAttempts: 2,
        topic,
        dlqTopic,
        kafka,
        logger,
        observer: { delivered: (outcome) => outcomes.push(outcome) },
      });
      try {
        const parked = await waitFor('the poison on the DLQ topic', async () => dlqTap.messages, (l) => l.length === 1, 30_000);
        expect(parked[0]!.envelope.eventId).toBe(poison.eventId);
        expect(parked[0]!.headers).toMatchObject({ 'x-failed-attempts': '2', 'x-consumer-group': groupId });
        const others = events.filter((e) => e !== poison).map((e) => e.eventId);
        const applied = await waitFor('the others', () => effects(db, groupId), (e) => e.total >= others.length, 10_000);
        expectAppliedOnce(applied.perEvent, others);
        // The first chunk (1-6) in one transaction; the second (7-12) rolled back, then one per message.
        expect(applied.transactions).toBe(1 + 5);
        expect(calls.filter((id) => id === poison.eventId)).toHaveLength(3);

        // The applied ones delivered again, as after a crash before the offset commit: all duplicates.
        outcomes.length = 0;
        await publisher.publish(events.filter((e) => e !== poison));
        await waitFor('the redelivered events', async () => outcomes.length, (n) => n === others.length, 20_000);
        expect(outcomes).toEqual(Array(others.length).fill('duplicate'));
        expectAppliedOnce((await effects(db, groupId)).perEvent, others);
      } finally {
        await consumer.stop();
        await dlqTap.close();
      }
    });
  });
});
