import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { PostgresEventStore, listenForAppends } from '../../../eventstore';
import { createPgClient } from '../../../infra';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { KafkaEventConsumer } from '../../../messaging/kafka/kafka-consumer';
import { RabbitMqPublisher } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { OutboxRelay, type RelayLaneState } from '../../../messaging/relay/outbox-relay';
import type { GlobalCheckpoint } from '../../../eventstore';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  backgroundAppender,
  createTestTopic,
  deleteTestTopics,
  appliedEventIds,
  effectCounts,
  ensureEffectsTable,
  messagingRegistry,
  positionOf,
  positionRelayAtHead,
  reached,
  recordEffect,
  stackService,
  testKafka,
  testLogger,
  uniqueName,
  waitFor,
} from './support';

const lane = (states: RelayLaneState[], broker: RelayLaneState['broker']): GlobalCheckpoint => states.find((s) => s.broker === broker)!.checkpoint;

describe('Kafka broker restarted mid-stream (real broker restart)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let listener: PgClient;
  const logger = testLogger('kafka-outage');
  const groupId = uniqueName('test-kafka-outage');
  const kafkaClient = testKafka('kafka-outage');
  let topic: string;

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    db = await openTestDatabase();
    await ensureEffectsTable(db);
    store = new PostgresEventStore(db, messagingRegistry());
    listener = await listenForAppends(createPgClient('kafka-outage-listener'));
    // The relay publishes to a topic of this test's own, which its consumer reads from the start.
    topic = await createTestTopic(kafkaClient, 'test-kafka-outage', 6);
  });

  afterAll(async () => {
    // Whatever happened, leave the broker running for everyone else.
    await stackService('kafka', 'up');
    const admin = kafkaClient.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
    await deleteTestTopics(kafkaClient, [topic]);
    await listener?.end();
    await db?.destroy();
  }, 120_000);

  it('delivers every event committed before, during and after the restart, and applies none twice', async () => {
    const prefix = uniqueName('relay-kafka-outage');
    await positionRelayAtHead(db, prefix);
    const rabbit = await RabbitMqPublisher.connect({ connectionName: 'test-kafka-outage', logger });
    const kafka = new KafkaPublisher({ logger, topic, sendTimeoutMs: 5000 });
    const relay = new OutboxRelay({ db, store, listener, publishers: [rabbit, kafka], checkpointPrefix: prefix, maxPollIntervalMs: 200, logger });
    const orders = Array.from({ length: 4 }, () => randomUUID());
    const ours = new Set(orders.map((o) => `Order-${o}`));
    const consumer = await KafkaEventConsumer.start({
      groupId,
      db,
      handler: async (envelope, { trx }) => {
        if (ours.has(envelope.streamId)) await recordEffect(trx, groupId, envelope);
      },
      topic,
      kafka: kafkaClient,
      logger,
    });
    await relay.start();
    const appender = backgroundAppender(store, orders);
    try {
      await waitFor('events flowing before the outage', () => appliedEventIds(db, groupId), (ids) => ids.size >= 8);

      await stackService('kafka', 'down');
      // Events appended while Kafka is down still reach RabbitMQ: one broker's lane never holds back the other's.
      const downAt = appender.committed.length;
      await waitFor('appends while Kafka is down', async () => appender.committed.length, (n) => n >= downAt + 2);
      const marker = await positionOf(db, appender.committed[downAt + 1]!);
      const lanes = await waitFor('the RabbitMQ lane to pass them', async () => relay.status(), (s) => reached(lane(s, 'rabbitmq'), marker), 10_000);
      expect(reached(lane(lanes, 'kafka'), marker)).toBe(false);

      await stackService('kafka', 'up');
      const committed = await appender.stop();
      expect(committed.length).toBeGreaterThan(downAt + 2);

      await waitFor('every committed event applied', () => appliedEventIds(db, groupId), (ids) => committed.every((id) => ids.has(id)), 60_000);
      expect(await effectCounts(db, groupId)).toEqual({ distinct: committed.length, total: committed.length, duplicated: [] });
      const last = await positionOf(db, committed[committed.length - 1]!);
      await waitFor('the Kafka lane caught up', async () => relay.status(), (s) => reached(lane(s, 'kafka'), last));
    } finally {
      await appender.stop();
      await relay.stop();
      await consumer.stop();
      await rabbit.close();
      await kafka.close();
    }
  }, 180_000);
});
