import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { PostgresEventStore, listenForAppends } from '../../../eventstore';
import { connectRabbitMq, createPgClient } from '../../../infra';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { RabbitMqConsumer } from '../../../messaging/rabbitmq/rabbitmq-consumer';
import { RabbitMqPublisher } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { parkingQueueName, retryQueueName } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { OutboxRelay, type RelayLaneState } from '../../../messaging/relay/outbox-relay';
import type { GlobalCheckpoint } from '../../../eventstore';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  backgroundAppender,
  appliedEventIds,
  effectCounts,
  ensureEffectsTable,
  messagingRegistry,
  positionOf,
  positionRelayAtHead,
  reached,
  recordEffect,
  stackService,
  testLogger,
  uniqueName,
  waitFor,
} from './support';

const lane = (states: RelayLaneState[], broker: RelayLaneState['broker']): GlobalCheckpoint => states.find((s) => s.broker === broker)!.checkpoint;

describe('RabbitMQ outage while events are appended (real broker restart)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let listener: PgClient;
  const logger = testLogger('rabbitmq-outage');
  const consumerName = uniqueName('test-rabbit-outage');

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    db = await openTestDatabase();
    await ensureEffectsTable(db);
    store = new PostgresEventStore(db, messagingRegistry());
    listener = await listenForAppends(createPgClient('rabbitmq-outage-listener'));
  });

  afterAll(async () => {
    // Whatever happened, leave the broker running for everyone else.
    await stackService('rabbitmq', 'up');
    const connection = await connectRabbitMq('test-cleanup');
    const channel = await connection.createChannel();
    for (const queue of [consumerName, parkingQueueName(consumerName), retryQueueName(consumerName, 200), retryQueueName(consumerName, 400)]) {
      await channel.deleteQueue(queue).catch(() => undefined);
    }
    await connection.close();
    await listener?.end();
    await db?.destroy();
  }, 120_000);

  it('delivers every event committed during the outage once the broker is back, and applies none twice', async () => {
    const prefix = uniqueName('relay-rabbit-outage');
    await positionRelayAtHead(db, prefix);
    const rabbit = await RabbitMqPublisher.connect({ connectionName: 'test-rabbit-outage', logger, connectTimeoutMs: 1000, confirmTimeoutMs: 5000 });
    const kafka = new KafkaPublisher({ logger });
    const relay = new OutboxRelay({ db, store, listener, publishers: [rabbit, kafka], checkpointPrefix: prefix, maxPollIntervalMs: 200, logger });
    const orders = Array.from({ length: 4 }, () => randomUUID());
    const ours = new Set(orders.map((o) => `Order-${o}`));
    const consumer = await RabbitMqConsumer.start({
      consumerName,
      bindingKeys: ['Order.#'],
      db,
      handler: async (envelope, { trx }) => {
        if (ours.has(envelope.streamId)) await recordEffect(trx, consumerName, envelope);
      },
      retryDelaysMs: [200, 400],
      logger,
    });
    await relay.start();
    const appender = backgroundAppender(store, orders);
    try {
      await waitFor('events flowing before the outage', () => appliedEventIds(db, consumerName), (ids) => ids.size >= 8);

      await stackService('rabbitmq', 'down');
      // Events appended while RabbitMQ is down still reach Kafka: one broker's lane never holds back the other's.
      const downAt = appender.committed.length;
      await waitFor('appends while RabbitMQ is down', async () => appender.committed.length, (n) => n >= downAt + 2);
      const marker = await positionOf(db, appender.committed[downAt + 1]!);
      const lanes = await waitFor('the Kafka lane to pass them', async () => relay.status(), (s) => reached(lane(s, 'kafka'), marker), 10_000);
      expect(reached(lane(lanes, 'rabbitmq'), marker)).toBe(false);

      await stackService('rabbitmq', 'up');
      const committed = await appender.stop();
      expect(committed.length).toBeGreaterThan(downAt + 2);

      await waitFor('every committed event applied', () => appliedEventIds(db, consumerName), (ids) => committed.every((id) => ids.has(id)), 60_000);
      expect(await effectCounts(db, consumerName)).toEqual({ distinct: committed.length, total: committed.length, duplicated: [] });
      const last = await positionOf(db, committed[committed.length - 1]!);
      await waitFor('the RabbitMQ lane caught up', async () => relay.status(), (s) => reached(lane(s, 'rabbitmq'), last));
    } finally {
      await appender.stop();
      await relay.stop();
      await consumer.stop();
      await rabbit.close();
      await kafka.close();
    }
  }, 180_000);
});
