import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { PostgresEventStore, listenForAppends } from '../../../eventstore';
import { createPgClient } from '../../../infra';
import { createOrderEventActivities } from '../../../activities/order-events';
import { PublishingBesideAppend, createPublishingActivities } from '../../../activities/publishing';
import { orderStreamId, type OrderEvent } from '../../../domain';
import { createKafka } from '../../../infra';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { kafkaLogCreator } from '../../../messaging/kafka/kafka-logging';
import { RabbitMqPublisher } from '../../../messaging/rabbitmq/rabbitmq-publisher';
import { FastPathDeliveries } from '../../../messaging/relay/fast-path-deliveries';
import type { EventPublisher } from '../../../messaging/publisher';
import { OutboxRelay } from '../../../messaging/relay/outbox-relay';
import { relayLag } from '../../../messaging/relay/relay-lag';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import {
  appendOrder,
  containsAll,
  orderEvents,
  messagingRegistry,
  openKafkaTap,
  openOwnTopic,
  openRabbitTap,
  positionOf,
  positionRelayAtHead,
  reached,
  testLogger,
  uniqueName,
  waitFor,
  type KafkaTap,
  type RabbitTap,
} from './support';

describe('outbox relay (real Postgres, RabbitMQ and Kafka)', () => {
  let db: Knex;
  let store: PostgresEventStore;
  let listener: PgClient;
  let rabbit: RabbitMqPublisher;
  let kafka: KafkaPublisher;
  let rabbitTap: RabbitTap;
  let kafkaTap: KafkaTap;
  const logger = testLogger('relay-test');

  beforeAll(async () => {
    requireService('postgres');
    requireService('rabbitmq');
    requireService('kafka');
    db = await openTestDatabase();
    store = new PostgresEventStore(db, messagingRegistry());
    listener = await listenForAppends(createPgClient('relay-test-listener'));
    rabbit = await RabbitMqPublisher.connect({ connectionName: 'relay-test', logger });
    kafka = new KafkaPublisher({ logger });
    rabbitTap = await openRabbitTap('Order.#');
    kafkaTap = await openKafkaTap();
  }, 60_000);

  afterAll(async () => {
    await rabbitTap?.close();
    await kafkaTap?.close();
    await rabbit?.close();
    await kafka?.close();
    await listener?.end();
    await db?.destroy();
  });

  const startRelay = async (prefix: string): Promise<OutboxRelay> => {
    const relay = new OutboxRelay({ db, store, publishers: [rabbit, kafka], listener, checkpointPrefix: prefix, maxPollIntervalMs: 200, logger });
    await relay.start();
    return relay;
  };
  // Another relay may run on the shared database (other tests, a developer's `npm run relay`) and
  // publish the same events: assertions look at each event's first arrival, and at this relay's own
  // checkpoints for what it published.
  const firstArrivals = (ids: readonly string[]): string[] => [...new Set(ids)];

  it('publishes every committed event to both brokers, nothing of an open transaction until it commits, and resumes from its checkpoint', async () => {
    const prefix = uniqueName('relay-test');
    await positionRelayAtHead(db, prefix);
    let relay = await startRelay(prefix);
    try {
      const [orderA, orderB, orderC] = [randomUUID(), randomUUID(), randomUUID()];

      // A takes its place in the log first and stays uncommitted; B commits after it.
      const trx = await db.transaction();
      const inTrx = new PostgresEventStore(trx as unknown as Knex, messagingRegistry(), { notifyAppends: false });
      const idsA = await appendOrder(inTrx, orderA, 2);
      const idsB = await appendOrder(store, orderB, 3);

      // Nothing may be published while A is open: B is behind A in the gap-free order, and A is not
      // committed. The relay polls every 200 ms; give it several polls to misbehave.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const [rabbitLag] = await relayLag(db, prefix, ['rabbitmq']);
      expect(rabbitLag?.lagEvents).toBeGreaterThanOrEqual(3);
      expect([...rabbitTap.eventIds(), ...kafkaTap.eventIds()].filter((id) => idsA.includes(id) || idsB.includes(id))).toEqual([]);

      await trx.commit();
      const expected = [...idsA, ...idsB];
      await waitFor('A and B on RabbitMQ', async () => rabbitTap.eventIds(), (ids) => containsAll(ids, expected));
      await waitFor('A and B on Kafka', async () => kafkaTap.eventIds(), (ids) => containsAll(ids, expected));
      // Log order: A's transaction is older, so A comes first.
      const rabbitOrder = firstArrivals(rabbitTap.eventIds()).filter((id) => expected.includes(id));
      expect(rabbitOrder).toEqual(expected);

      // What a message looks like on each broker.
      const onRabbit = rabbitTap.messages.find((m) => m.envelope.eventId === idsB[0])!;
      expect(onRabbit.message.fields).toMatchObject({ exchange: 'events', routingKey: 'Order.OrderCreated' });
      expect(onRabbit.message.properties).toMatchObject({ messageId: idsB[0], type: 'OrderCreated', correlationId: `corr-${orderB}`, deliveryMode: 2 });
      expect(onRabbit.message.properties.headers).toMatchObject({ 'stream-id': `Order-${orderB}`, 'stream-version': '1', 'schema-version': '2' });
      const onKafka = kafkaTap.messages.find((m) => m.envelope.eventId === idsB[0])!;
      expect(onKafka.key).toBe(orderB);
      expect(onKafka.headers).toMatchObject({ 'message-id': idsB[0], type: 'OrderCreated', 'correlation-id': `corr-${orderB}` });

      const lastB = await positionOf(db, idsB[idsB.length - 1]!);
      await waitFor('both lanes past B', async () => relay.status(), (lanes) => lanes.every((l) => reached(l.checkpoint, lastB)));

      // Restart: a new relay with the same checkpoints publishes only what came after.
      await relay.stop();
      const saved = relay.status().map((lane) => lane.checkpoint);
      const idsC = await appendOrder(store, orderC, 2);
      const idsB2 = await appendOrder(store, orderB, 1, 3);
      // Other processes may append to the shared database too: at least ours are pending.
      const lagsWhileStopped = await relayLag(db, prefix);
      expect(lagsWhileStopped.map((l) => l.broker)).toEqual(['rabbitmq', 'kafka']);
      for (const lag of lagsWhileStopped) {
        expect(lag.lagEvents).toBeGreaterThanOrEqual(3);
        expect(lag.lagSeconds).toBeGreaterThan(0);
      }
      relay = await startRelay(prefix);
      // It resumed where the first one stopped: A and B are behind it and are not published again.
      expect(relay.status().map((lane) => lane.checkpoint)).toEqual(saved);
      const later = [...idsC, ...idsB2];
      await waitFor('C on RabbitMQ', async () => rabbitTap.eventIds(), (ids) => containsAll(ids, later));
      await waitFor('C on Kafka', async () => kafkaTap.eventIds(), (ids) => containsAll(ids, later));
      const lastLater = await positionOf(db, later[later.length - 1]!);
      await waitFor('both lanes past C', async () => relay.status(), (lanes) => lanes.every((l) => reached(l.checkpoint, lastLater)));
      expect(relay.status().every((lane) => lane.published >= later.length)).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it("keeps each order's events in stream-version order on Kafka, one partition per order", async () => {
    const prefix = uniqueName('relay-order');
    await positionRelayAtHead(db, prefix);
    const relay = await startRelay(prefix);
    try {
      const orders = Array.from({ length: 12 }, () => randomUUID());
      // Appends interleave across orders, several events per append, from concurrent writers.
      const versions = new Map(orders.map((o) => [o, 0]));
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          orders.map(async (orderId) => {
            const from = versions.get(orderId)!;
            const n = 1 + ((round + orderId.charCodeAt(0)) % 3);
            await appendOrder(store, orderId, n, from);
            versions.set(orderId, from + n);
          }),
        );
      }
      const total = [...versions.values()].reduce((a, b) => a + b, 0);
      const streams = new Set(orders.map((o) => `Order-${o}`));
      const ours = (): KafkaTap['messages'] => kafkaTap.messages.filter((m) => streams.has(m.envelope.streamId));
      await waitFor(`${total} events on Kafka`, async () => ours().length, (n) => n >= total);

      for (const orderId of orders) {
        const seen = ours().filter((m) => m.key === orderId);
        // What a deduplicating consumer sees: each event's first arrival.
        const first = seen.filter((m, i) => seen.findIndex((o) => o.envelope.eventId === m.envelope.eventId) === i);
        expect(first.map((m) => m.envelope.streamVersion)).toEqual(Array.from({ length: versions.get(orderId)! }, (_, i) => i + 1));
        expect(new Set(seen.map((m) => m.partition)).size).toBe(1);
      }
    } finally {
      await relay.stop();
    }
  });

  it('passes over what the fast path delivered, and leaves a fresh event to it for a grace period before publishing it', async () => {
    const prefix = uniqueName('relay-fast-path');
    await positionRelayAtHead(db, prefix);
    const graceMs = 2000;
    const relay = new OutboxRelay({ db, store, publishers: [rabbit, kafka], listener, checkpointPrefix: prefix, maxPollIntervalMs: 200, fastPathGraceMs: graceMs, logger });
    await relay.start();
    try {
      const [deliveredOrder, missedOrder] = [randomUUID(), randomUUID()];
      await appendOrder(store, deliveredOrder, 2);
      // As the publishing path records them once both brokers confirmed.
      await new FastPathDeliveries(db).record(await store.readStream(orderStreamId(deliveredOrder)));
      const [missed] = await appendOrder(store, missedOrder, 1);
      const appendedAt = Date.now();
      const lastMissed = await positionOf(db, missed!);

      // Within the grace the relay leaves the missed event to the fast path...
      await new Promise((resolve) => setTimeout(resolve, graceMs / 2));
      expect([...rabbitTap.eventIds(), ...kafkaTap.eventIds()]).not.toContain(missed);
      // ...then publishes it, and never the delivered ones.
      await waitFor('both lanes past the missed event', async () => relay.status(), (lanes) => lanes.every((l) => reached(l.checkpoint, lastMissed)));
      expect(Date.now() - appendedAt).toBeGreaterThanOrEqual(graceMs - 200);
      await waitFor('the missed event on RabbitMQ', async () => rabbitTap.eventIds(), (ids) => ids.includes(missed!));
      await waitFor('the missed event on Kafka', async () => kafkaTap.eventIds(), (ids) => ids.includes(missed!));
      expect(relay.status().map(({ broker, published, skipped }) => ({ broker, published, skipped }))).toEqual([
        { broker: 'rabbitmq', published: 1, skipped: 2 },
        { broker: 'kafka', published: 1, skipped: 2 },
      ]);
    } finally {
      await relay.stop();
    }
  });

  // For the fast-path tests: a real client aimed at a port where no broker listens (every send fails),
  // an order's events as the workflow hands them over, and what the store and the delivery record hold.
  const deadKafkaPublisher = (clientId: string): KafkaPublisher =>
    new KafkaPublisher({ kafka: createKafka(clientId, { brokers: ['127.0.0.1:1'], retry: { retries: 0 }, logCreator: kafkaLogCreator(logger) }), logger, sendTimeoutMs: 500 });
  const domainEvents = (orderId: string, count: number, fromVersion = 0): OrderEvent[] =>
    orderEvents(orderId, count, fromVersion).map(({ type, data }) => ({ type, data }) as OrderEvent);
  const storedIds = async (orderId: string): Promise<string[]> => (await store.readStream(orderStreamId(orderId))).map((e) => e.eventId);
  const recorded = async (orderId: string): Promise<number> =>
    (await new FastPathDeliveries(db).among((await store.readStream(orderStreamId(orderId))).map((e) => e.globalPosition))).delivered.size;

  it('the append activity publishes what it appended to both brokers; on a broker failure it leaves that to the publishing activity', async () => {
    const own = await openOwnTopic('beside-append', logger);
    const { publisher: ownKafka, tap: topicTap } = own;
    const deadKafka = deadKafkaPublisher('dead');
    try {
      const deliveries = new FastPathDeliveries(db);
      const healthy = createOrderEventActivities(store, new PublishingBesideAppend({ store, publishers: [rabbit, ownKafka], deliveries }));
      const orderId = randomUUID();
      await expect(healthy.appendOrderEvents({ orderId, expectedVersion: 0, events: domainEvents(orderId, 2), publish: true })).resolves.toEqual({
        version: 2,
        duplicate: false,
        published: true,
      });
      const ids = await storedIds(orderId);
      // Confirmed by both brokers before the activity answered.
      await waitFor('the events on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => containsAll(seen, ids));
      await waitFor('the events on Kafka', async () => topicTap.eventIds(), (seen) => seen.length >= 2);
      expect(topicTap.eventIds()).toEqual(ids);
      // Recorded as delivered, so the relay passes them over.
      expect(await recorded(orderId)).toBe(2);
      // Not asked to publish: appended only.
      await expect(healthy.appendOrderEvents({ orderId, expectedVersion: 2, events: domainEvents(orderId, 1, 2) })).resolves.toMatchObject({ published: false });

      const failing = createOrderEventActivities(
        store,
        new PublishingBesideAppend({ store, publishers: [rabbit, deadKafka], deliveries }, { timeoutMs: 2000, pauseAfterFailureMs: 60_000 }),
      );
      const other = randomUUID();
      await expect(failing.appendOrderEvents({ orderId: other, expectedVersion: 0, events: domainEvents(other, 1), publish: true })).resolves.toEqual({
        version: 1,
        duplicate: false,
        published: false,
      });
      const [first] = await storedIds(other);
      // Committed all the same, and each broker that could take it did (the durable path repeats it).
      await waitFor('the first event on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => seen.includes(first!));
      // Not delivered everywhere, so not recorded: the relay will publish it.
      expect(await recorded(other)).toBe(0);
      // While paused after the failure, appends do not even try: RabbitMQ gets nothing of the next one.
      await expect(failing.appendOrderEvents({ orderId: other, expectedVersion: 1, events: domainEvents(other, 1, 1), publish: true })).resolves.toMatchObject({
        version: 2,
        published: false,
      });
      const second = (await storedIds(other))[1]!;
      await healthy.appendOrderEvents({ orderId: other, expectedVersion: 2, events: domainEvents(other, 1, 2), publish: true });
      const third = (await storedIds(other))[2]!;
      await waitFor('the third event on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => seen.includes(third));
      expect(rabbitTap.eventIds()).not.toContain(second);
    } finally {
      await deadKafka.close();
      await own.close();
    }
  });

  it("an append asked to publish 'later' answers once stored, then publishes in the background: the appends queued meanwhile in one send, each order in version order; a failure leaves them to the relay", async () => {
    const own = await openOwnTopic('beside-append-later', logger);
    const { publisher: ownKafka, tap: topicTap } = own;
    const deadKafka = deadKafkaPublisher('dead-later');
    // Kafka's sends are counted, and the first one is held until released: what is appended meanwhile queues.
    const sends: number[] = [];
    let release: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (release = resolve));
    const countedKafka: EventPublisher = {
      broker: 'kafka',
      maxInFlightBatches: 1,
      close: async () => undefined,
      async publish(events) {
        sends.push(events.length);
        if (sends.length === 1) await firstHeld;
        await ownKafka.publish(events);
      },
    };
    try {
      const deliveries = new FastPathDeliveries(db);
      const publishing = new PublishingBesideAppend({ store, publishers: [rabbit, countedKafka], deliveries });
      const activities = createOrderEventActivities(store, publishing);
      const orders = Array.from({ length: 5 }, () => randomUUID());
      // The first append's send goes out (and is held); the others answer all the same, and queue.
      await expect(activities.appendOrderEvents({ orderId: orders[0]!, expectedVersion: 0, events: domainEvents(orders[0]!, 2), publish: 'later' })).resolves.toEqual({
        version: 2,
        duplicate: false,
        published: false,
      });
      for (const orderId of orders.slice(1)) await activities.appendOrderEvents({ orderId, expectedVersion: 0, events: domainEvents(orderId, 2), publish: 'later' });
      for (const orderId of orders) {
        await expect(activities.appendOrderEvents({ orderId, expectedVersion: 2, events: domainEvents(orderId, 1, 2), publish: 'later' })).resolves.toMatchObject({ version: 3, published: false });
      }
      expect(sends).toEqual([2]);
      release();
      await publishing.flush();
      // Nine appends after the first, in one send.
      expect(sends).toEqual([2, 13]);
      const ids = (await Promise.all(orders.map(storedIds))).flat();
      await waitFor('every event on Kafka', async () => topicTap.eventIds(), (seen) => seen.length >= ids.length);
      await waitFor('every event on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => containsAll(seen, ids));
      for (const orderId of orders) {
        const own = await storedIds(orderId);
        expect(topicTap.eventIds().filter((id) => own.includes(id))).toEqual(own);
        // Recorded as delivered, so the relay passes them over.
        expect(await recorded(orderId)).toBe(3);
      }

      const failing = new PublishingBesideAppend({ store, publishers: [rabbit, deadKafka], deliveries }, { timeoutMs: 2000, pauseAfterFailureMs: 60_000 });
      const unlucky = createOrderEventActivities(store, failing);
      const other = randomUUID();
      const startedAt = Date.now();
      await expect(unlucky.appendOrderEvents({ orderId: other, expectedVersion: 0, events: domainEvents(other, 1), publish: 'later' })).resolves.toEqual({
        version: 1,
        duplicate: false,
        published: false,
      });
      // Answered without waiting for the broker that is down (its sends fail after 500 ms).
      expect(Date.now() - startedAt).toBeLessThan(500);
      await failing.flush();
      const [first] = await storedIds(other);
      // Stored all the same; the broker that could take it did, but it is not recorded: the relay publishes it.
      await waitFor('the first event on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => seen.includes(first!));
      expect(await recorded(other)).toBe(0);
      // While paused after the failure, nothing is even tried.
      await unlucky.appendOrderEvents({ orderId: other, expectedVersion: 1, events: domainEvents(other, 1, 1), publish: 'later' });
      await failing.flush();
      const second = (await storedIds(other))[1]!;
      await activities.appendOrderEvents({ orderId: other, expectedVersion: 2, events: domainEvents(other, 1, 2), publish: 'later' });
      await publishing.flush();
      const third = (await storedIds(other))[2]!;
      await waitFor('the third event on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => seen.includes(third));
      expect(rabbitTap.eventIds()).not.toContain(second);
    } finally {
      release();
      await deadKafka.close();
      await own.close();
    }
  });

  it('publishOrderEvents activity publishes a version range of one order to both brokers', async () => {
    const own = await openOwnTopic('activity', logger);
    const { publisher: ownKafka, tap: topicTap } = own;
    try {
      const activities = createPublishingActivities({ store, publishers: [rabbit, ownKafka] });
      const orderId = randomUUID();
      const ids = await appendOrder(store, orderId, 4);
      await expect(activities.publishOrderEvents({ orderId, fromVersion: 2, toVersion: 3 })).resolves.toEqual({ published: 2 });
      const wanted = ids.slice(1, 3);
      await waitFor('versions 2..3 on RabbitMQ', async () => rabbitTap.eventIds(), (seen) => containsAll(seen, wanted));
      await waitFor('versions 2..3 on Kafka', async () => topicTap.eventIds(), (seen) => containsAll(seen, wanted));
      expect(topicTap.eventIds()).toEqual(wanted);

      // Retried (as Temporal would): duplicates at worst, never an error.
      await expect(activities.publishOrderEvents({ orderId, fromVersion: 2, toVersion: 3 })).resolves.toEqual({ published: 2 });
      await waitFor('the repeat on Kafka', async () => topicTap.eventIds(), (seen) => seen.length === 4);
      expect(topicTap.eventIds()).toEqual([...wanted, ...wanted]);
      await expect(activities.publishOrderEvents({ orderId, fromVersion: 4, toVersion: 6 })).rejects.toThrow(/has 1 of the 3 events/);
      await expect(activities.publishOrderEvents({ orderId, fromVersion: 3, toVersion: 2 })).rejects.toMatchObject({ nonRetryable: true });
    } finally {
      await own.close();
    }
  });
});
