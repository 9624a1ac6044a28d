import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Admin } from 'kafkajs';
import type { Knex } from 'knex';
import { PostgresEventStore } from '../../../eventstore';
import { orderStreamId } from '../../../domain/order/events';
import { connectRabbitMq } from '../../../infra';
import { KafkaEventConsumer } from '../../../messaging/kafka/kafka-consumer';
import { kafkaConsumerLag, kafkaTopicDepth } from '../../../messaging/kafka/kafka-lag';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { rabbitQueueDepths } from '../../../messaging/rabbitmq/rabbitmq-management';
import { declareConsumerQueue, parkingQueueName, retryQueueName } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { messagingStatus } from '../../../messaging/status';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import { appendOrder, appliedEventIds, ensureEffectsTable, messagingRegistry, recordEffect, testKafka, testLogger, uniqueName, waitFor } from './support';

describe('messaging metrics (real brokers)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  let admin: Admin;
  const kafka = testKafka('metrics');
  const logger = testLogger('metrics-test');
  const consumerName = uniqueName('test-metrics');
  const topic = uniqueName('test-metrics-topic');
  const groupId = uniqueName('test-metrics-group');

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    db = await openTestDatabase();
    await ensureEffectsTable(db);
    store = new PostgresEventStore(db, messagingRegistry());
    connection = await connectRabbitMq('test-metrics');
    channel = await connection.createConfirmChannel();
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
  });

  afterAll(async () => {
    for (const queue of [consumerName, parkingQueueName(consumerName), retryQueueName(consumerName, 1000)]) {
      await channel?.deleteQueue(queue).catch(() => undefined);
    }
    await connection?.close();
    await admin?.deleteGroups([groupId]).catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    await db?.destroy();
  });

  it('reports RabbitMQ queue depths from the management API', async () => {
    await declareConsumerQueue(channel, consumerName, [], { retryDelaysMs: [1000] });
    for (let i = 0; i < 3; i++) channel.sendToQueue(consumerName, Buffer.from('{}'), { persistent: true });
    await channel.waitForConfirms();
    // The management API refreshes its numbers every few seconds.
    const depths = await waitFor(
      'the work queue to show 3 messages',
      () => rabbitQueueDepths((name) => name.startsWith(consumerName)),
      (queues) => queues.find((q) => q.name === consumerName)?.messages === 3,
    );
    expect(depths.map((q) => q.name)).toEqual([consumerName, `${consumerName}.dlq`, `${consumerName}.retry.1000`]);
    expect(depths.find((q) => q.name === `${consumerName}.dlq`)).toMatchObject({ messages: 0, consumers: 0 });
  });

  it('reports Kafka consumer-group lag as end offsets minus committed offsets', async () => {
    const publisher = new KafkaPublisher({ kafka, topic, logger });
    const orderId = randomUUID();
    await appendOrder(store, orderId, 5);
    const events = await store.readStream(orderStreamId(orderId));
    await publisher.publish(events.slice(0, 3));
    const consumer = await KafkaEventConsumer.start({
      groupId,
      topic,
      db,
      kafka,
      logger,
      handler: async (envelope, { trx }) => recordEffect(trx, groupId, envelope),
    });
    try {
      await waitFor('the first three handled', () => appliedEventIds(db, groupId), (ids) => ids.size === 3);
      // Offsets are committed at the end of each batch.
      await waitFor('no lag', () => kafkaConsumerLag(admin, { groupIds: [groupId], topic }), ([lag]) => lag?.lag === 0);
    } finally {
      await consumer.stop();
    }
    await publisher.publish(events.slice(3));
    await publisher.close();

    const [lag] = await kafkaConsumerLag(admin, { groupIds: [groupId], topic });
    expect(lag).toMatchObject({ groupId, topic, lag: 2 });
    expect(lag!.partitions.reduce((sum, p) => sum + p.lag, 0)).toBe(2);
    expect(await kafkaTopicDepth(admin, topic)).toBe(5);
  });

  it('gathers relay lag, queue depths, group lag and the DLQ size in one status', async () => {
    const status = await messagingStatus(db, { kafkaGroupIds: [groupId] });
    expect(Array.isArray(status.relay)).toBe(true);
    expect(Array.isArray(status.rabbitmqQueues)).toBe(true);
    expect(status.kafkaConsumerGroups).toEqual([expect.objectContaining({ groupId })]);
    expect(typeof status.kafkaDlqMessages).toBe('number');
  });
});
