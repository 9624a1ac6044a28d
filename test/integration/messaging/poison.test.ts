import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Producer } from 'kafkajs';
import type { Knex } from 'knex';
import { connectRabbitMq, createIdempotentProducer } from '../../../infra';
import { listKafkaParked, replayKafkaParked } from '../../../messaging/kafka/dlq-kafka';
import { peekParked, replayParked } from '../../../messaging/rabbitmq/dlq-rabbitmq';
import type { EventHandler } from '../../../messaging/handler';
import { KafkaEventConsumer } from '../../../messaging/kafka/kafka-consumer';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { RabbitMqConsumer } from '../../../messaging/rabbitmq/rabbitmq-consumer';
import { RabbitMqPublisher } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { parkingQueueName, retryQueueName } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  appliedEventIds,
  createTestTopic,
  deleteTestTopics,
  effectCounts,
  ensureEffectsTable,
  openKafkaTap,
  recordEffect,
  testKafka,
  testLogger,
  uniqueName,
  unstoredOrderEvents,
  waitFor,
} from './support';

/**
 * A handler that always fails for one event until "fixed", and records every attempt. Effects go to
 * the effects table inside the handler's transaction, so a duplicate application would show.
 */
function poisonHandler(consumer: string, poisonId: () => string) {
  const state = { fixed: false, attempts: new Map<string, number[]>() };
  const handler: EventHandler = async (envelope, { trx, attempt }) => {
    state.attempts.set(envelope.eventId, [...(state.attempts.get(envelope.eventId) ?? []), attempt]);
    if (envelope.eventId === poisonId() && !state.fixed) throw new Error(`cannot handle ${envelope.type} v${envelope.streamVersion}`);
    await recordEffect(trx, consumer, envelope);
  };
  return { state, handler };
}

describe('poison messages (real brokers and Postgres)', () => {
  let db: Knex;
  const logger = testLogger('poison-test');

  beforeAll(async () => {
    requireService('postgres');
    db = await openTestDatabase();
    await ensureEffectsTable(db);
  });
  afterAll(() => db?.destroy());


  describe('RabbitMQ', () => {
    let connection: ChannelModel;
    let channel: ConfirmChannel;
    let publisher: RabbitMqPublisher;
    const consumerName = uniqueName('test-poison');

    beforeAll(async () => {
      requireService('rabbitmq');
      connection = await connectRabbitMq('test-poison');
      channel = await connection.createConfirmChannel();
      publisher = await RabbitMqPublisher.connect({ connectionName: 'test-poison', logger });
    });
    afterAll(async () => {
      for (const queue of [consumerName, parkingQueueName(consumerName), retryQueueName(consumerName, 200), retryQueueName(consumerName, 400)]) {
        await channel?.deleteQueue(queue).catch(() => undefined);
      }
      await publisher?.close();
      await connection?.close();
    });

    it('parks a message that keeps failing after the configured attempts, while the ones behind it go on; replay delivers it after the fix', async () => {
      const events = unstoredOrderEvents(6);
      const poison = events[1]!;
      const { state, handler } = poisonHandler(consumerName, () => poison.eventId);
      const failures: string[] = [];
      const consumer = await RabbitMqConsumer.start({
        consumerName,
        bindingKeys: [`Order.#`],
        db,
        handler: async (envelope, context) => {
          // Other tests publish Order events too: this consumer cares about its own order only.
          if (envelope.streamId !== poison.streamId) return;
          await handler(envelope, context);
        },
        retryDelaysMs: [200, 400],
        maxAttempts: 3,
        logger,
        observer: { failed: (_err, parked) => failures.push(parked ? 'park' : 'retry') },
      });
      try {
        expect(consumer.isConsuming()).toBe(true);
        const started = Date.now();
        await publisher.publish(events);
        const others = events.filter((e) => e !== poison).map((e) => e.eventId);

        // The five healthy events are applied without waiting for the poison's retries.
        await waitFor('the healthy events', () => appliedEventIds(db, consumerName), (ids) => others.every((id) => ids.has(id)), 10_000);
        expect(Date.now() - started).toBeLessThan(600);

        const parked = await waitFor('the poison in the DLQ', () => peekParked(channel, consumerName), (list) => list.length === 1, 10_000);
        expect(parked[0]).toMatchObject({
          messageId: poison.eventId,
          routingKey: 'Order.OrderItemAdded',
          failedAttempts: 3,
          error: 'cannot handle OrderItemAdded v2',
        });
        expect(state.attempts.get(poison.eventId)).toEqual([1, 2, 3]);
        expect(failures).toEqual(['retry', 'retry', 'park']);
        // The second and third attempts waited in the retry queues: 200 ms, then 400 ms.
        expect(Date.now() - started).toBeGreaterThanOrEqual(600);
        expect((await appliedEventIds(db, consumerName)).has(poison.eventId)).toBe(false);

        state.fixed = true;
        await expect(replayParked(channel, consumerName)).resolves.toBe(1);
        await waitFor('the replayed poison applied', () => appliedEventIds(db, consumerName), (ids) => ids.has(poison.eventId), 10_000);
        // Replay reset the attempt counter: the fixed handler ran as a first attempt.
        expect(state.attempts.get(poison.eventId)).toEqual([1, 2, 3, 1]);
        expect((await channel.checkQueue(parkingQueueName(consumerName))).messageCount).toBe(0);
        expect(await effectCounts(db, consumerName)).toEqual({ distinct: 6, total: 6, duplicated: [] });
      } finally {
        await consumer.stop();
      }
      expect(consumer.isConsuming()).toBe(false);
    });

    it('parks a message that is not an event envelope at once', async () => {
      const consumer = await RabbitMqConsumer.start({
        consumerName,
        bindingKeys: ['Order.#'],
        db,
        handler: async () => undefined,
        retryDelaysMs: [200, 400],
        maxAttempts: 3,
        logger,
      });
      try {
        const messageId = randomUUID();
        channel.sendToQueue(consumerName, Buffer.from('definitely not json'), { persistent: true, messageId });
        await channel.waitForConfirms();
        const parked = await waitFor('the malformed message parked', () => peekParked(channel, consumerName), (l) => l.some((p) => p.messageId === messageId), 10_000);
        expect(parked.find((p) => p.messageId === messageId)).toMatchObject({ failedAttempts: 1, error: expect.stringMatching(/not JSON/) });
      } finally {
        await consumer.stop();
      }
    });
  });

  describe('Kafka', () => {
    let publisher: KafkaPublisher;
    let producer: Producer;
    const kafka = testKafka('poison');
    const groupId = uniqueName('test-poison-group');
    // Topics of this test's own: it sees exactly its messages, and leaves nothing in the real ones.
    let topic: string;
    let dlqTopic: string;

    beforeAll(async () => {
      requireService('kafka');
      topic = await createTestTopic(kafka, 'test-order-events');
      dlqTopic = await createTestTopic(kafka, 'test-order-events.dlq', 1);
      publisher = new KafkaPublisher({ logger, topic });
      producer = createIdempotentProducer(kafka);
      await producer.connect();
    });
    afterAll(async () => {
      await publisher?.close();
      await producer?.disconnect();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId, `${groupId}.dlq-replay`]).catch(() => undefined);
      await admin.disconnect();
      await deleteTestTopics(kafka, [topic, dlqTopic]);
    });

    it('retries in place, parks the message in the DLQ topic with its origin, moves on; replay delivers it to this group only', async () => {
      const events = unstoredOrderEvents(6);
      const poison = events[1]!;
      const { state, handler } = poisonHandler(groupId, () => poison.eventId);
      const failures: string[] = [];
      const dlqTap = await openKafkaTap(dlqTopic);
      const mainTap = await openKafkaTap(topic);
      const consumer = await KafkaEventConsumer.start({
        groupId,
        db,
        handler: async (envelope, context) => {
          if (envelope.streamId !== poison.streamId) return;
          await handler(envelope, context);
        },
        retryDelaysMs: [200, 400],
        maxAttempts: 3,
        topic,
        dlqTopic,
        kafka,
        logger,
        observer: { failed: (_err, parked) => failures.push(parked ? 'park' : 'retry') },
      });
      try {
        await publisher.publish(events);
        const all = events.map((e) => e.eventId);
        const others = all.filter((id) => id !== poison.eventId);
        await waitFor('the healthy events', () => appliedEventIds(db, groupId), (ids) => others.every((id) => ids.has(id)), 20_000);
        expect(state.attempts.get(poison.eventId)).toEqual([1, 2, 3]);
        // Handling messages, it is a member of its group.
        expect(consumer.isConsuming()).toBe(true);

        const parked = await waitFor('the poison on the DLQ topic', async () => dlqTap.messages.filter((m) => m.envelope.eventId === poison.eventId), (l) => l.length === 1);
        expect(parked[0]!.key).toBe(poison.streamId.replace(/^Order-/, ''));
        expect(parked[0]!.headers).toMatchObject({
          'x-error-message': 'cannot handle OrderItemAdded v2',
          'x-original-topic': topic,
          'x-consumer-group': groupId,
          'x-failed-attempts': '3',
          'message-id': poison.eventId,
        });
        expect(parked[0]!.headers['x-original-offset']).toMatch(/^\d+$/);
        expect(failures).toEqual(['retry', 'retry', 'park']);
        const listed = await listKafkaParked(kafka, dlqTopic);
        expect(listed).toEqual([expect.objectContaining({ consumerGroup: groupId, eventId: poison.eventId, pending: true })]);

        state.fixed = true;
        await expect(replayKafkaParked(kafka, producer, groupId, dlqTopic)).resolves.toBe(1);
        await waitFor('the replayed poison applied', () => appliedEventIds(db, groupId), (ids) => ids.has(poison.eventId), 20_000);
        expect(state.attempts.get(poison.eventId)).toEqual([1, 2, 3, 1]);
        // The replayed copy is tagged for this group; every other group skips it.
        const copy = await waitFor('the replayed copy on the topic', async () => mainTap.messages.filter((m) => m.envelope.eventId === poison.eventId), (l) => l.length === 2);
        expect(copy[1]!.headers).toMatchObject({ 'x-replay-for': groupId });
        expect(copy[1]!.headers).not.toHaveProperty('x-error-message');
        // A second replay finds nothing new; the listing knows it was replayed.
        await expect(replayKafkaParked(kafka, producer, groupId, dlqTopic)).resolves.toBe(0);
        expect(await listKafkaParked(kafka, dlqTopic)).toEqual([expect.objectContaining({ eventId: poison.eventId, pending: false })]);
        expect(await effectCounts(db, groupId)).toEqual({ distinct: 6, total: 6, duplicated: [] });
      } finally {
        await consumer.stop();
        await dlqTap.close();
        await mainTap.close();
      }
      expect(consumer.isConsuming()).toBe(false);
    });
  });
});
