/**
 * npm run bench:publish: events per second from the event log to both brokers through the relay, as
 * the relay process runs it (both lanes in one process: read committed events, publish to RabbitMQ
 * with confirms and to Kafka with acks from all replicas, save each lane's checkpoint), against raw
 * client baselines in the same run on the same brokers:
 *   - raw amqplib: the same messages, persistent and mandatory, in batches of the relay's batch size
 *     on a confirm channel, waiting for the confirms of each batch;
 *   - raw kafkajs: the same messages (key, value, headers) with sendBatch, acks -1, batch by batch.
 * The relay's two lanes run side by side, so it is compared with the slower raw baseline. For scale,
 * raw_both_parallel_per_s runs both raw baselines at once in this process: on a small machine where
 * the brokers and the client share the cores, that, not the slower single baseline, is the ceiling.
 * The relay
 * also does both brokers' client-side encoding on one event loop, which each baseline does alone:
 * cpu_us_per_event shows that cost, which bounds the relay on a busy machine.
 *
 * The relay also looks up, page by page, which events the fast path already delivered (none here).
 *
 * Isolation: a fresh database; events of a `Bench` stream type (routing key Bench.*), taken by a
 * bench queue; a bench topic shaped like order-events. Queue and topic are deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import type { ConfirmChannel } from 'amqplib';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { EventRegistry, PostgresEventStore, START_OF_LOG, type NewEvent, type StoredEvent } from '../eventstore';
import { ORDER_EVENT_DEFINITIONS } from '../domain/order/events';
import { config } from '../config';
import { connectRabbitMq, createKafka, createLogger } from '../infra';
import { encodeEvent, type EncodedEvent } from '../messaging/envelope';
import { KafkaPublisher, toKafkaMessage } from '../messaging/kafka/kafka-publisher';
import { RabbitMqPublisher } from '../messaging/rabbitmq/rabbitmq-publisher';
import { kafkaLogCreator } from '../messaging/kafka/kafka-logging';
import { KAFKA_TOPIC_CONFIGS, KAFKA_TOPICS } from '../messaging/kafka/kafka-topics';
import { EVENTS_EXCHANGE, declareEventTopology } from '../messaging/rabbitmq/rabbitmq-topology';
import { OutboxRelay } from '../messaging/relay/outbox-relay';
import { freshBenchDatabase, round } from './support';

const EVENTS = Number(process.env.BENCH_PUBLISH_EVENTS ?? 20_000);
const BATCH = Number(process.env.BENCH_PUBLISH_BATCH ?? 500);
// Interleaved rounds; each side's median is reported, so one disturbed round does not decide.
const ROUNDS = Number(process.env.BENCH_PUBLISH_ROUNDS ?? 3);
const STREAMS = 1000;
const BENCH_QUEUE = `bench.publish.${randomUUID().slice(0, 8)}`;
const BENCH_TOPIC = `bench-publish-${randomUUID().slice(0, 8)}`;

const logger = createLogger('bench-publish');
logger.level = 'warn';

/** Order-shaped events (typical payload and metadata) in Bench streams, appended in batches of 10. */
async function seed(store: PostgresEventStore): Promise<void> {
  const versions = new Map<string, number>();
  for (let i = 0; i < EVENTS / 10; i++) {
    const streamId = `Bench-${i % STREAMS}`;
    const version = versions.get(streamId) ?? 0;
    const events: NewEvent[] = Array.from({ length: 10 }, (_, k) => ({
      eventId: randomUUID(),
      type: 'OrderItemAdded',
      data: { orderId: `order-${i % STREAMS}`, sku: `SKU-${k}`, quantity: 1 + k, unitPrice: { amountMinor: 1299, currency: 'USD' } },
      metadata: { correlationId: randomUUID(), causationId: 'AddItem', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    }));
    await store.append(streamId, events, { expectedVersion: version === 0 ? 'no_stream' : version, streamType: 'Bench' });
    versions.set(streamId, version + 10);
  }
}

async function readAllEvents(store: PostgresEventStore): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let checkpoint = START_OF_LOG;
  for (;;) {
    const page = await store.readAll({ after: checkpoint, limit: 5000 });
    if (page.events.length === 0) return all;
    all.push(...page.events);
    checkpoint = page.checkpoint;
  }
}

interface Run {
  rate: number;
  cpu: number;
}

const median = (runs: readonly Run[], key: keyof Run): number => {
  const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/** Events per second, and this process's CPU time per event in microseconds. */
async function timed(work: () => Promise<void>): Promise<Run> {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return { rate: EVENTS / (Number(process.hrtime.bigint() - started) / 1e9), cpu: (used.user + used.system) / EVENTS };
}

async function rawRabbitMq(channel: ConfirmChannel, messages: readonly EncodedEvent[]): Promise<void> {
  for (let i = 0; i < messages.length; i += BATCH) {
    for (const m of messages.slice(i, i + BATCH)) {
      channel.publish(EVENTS_EXCHANGE, m.routingKey, m.body, {
        persistent: true,
        mandatory: true,
        messageId: m.envelope.eventId,
        type: m.envelope.type,
        headers: m.headers,
      });
    }
    await channel.waitForConfirms();
  }
}

async function rawKafka(producer: Producer, messages: readonly EncodedEvent[]): Promise<void> {
  for (let i = 0; i < messages.length; i += BATCH) {
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic: BENCH_TOPIC, messages: messages.slice(i, i + BATCH).map((event) => toKafkaMessage(event)) }] });
  }
}

/** The relay, as workers/relay.ts runs it, from the start of the log until both lanes published the last event. */
async function relayRun(relay: OutboxRelay, last: StoredEvent): Promise<void> {
  await relay.start();
  const done = (): boolean =>
    relay.status().every((lane) => lane.checkpoint.transactionId >= last.transactionId && lane.checkpoint.globalPosition >= last.globalPosition);
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 2));
}

async function main(): Promise<void> {
  const db = await freshBenchDatabase('orders_bench_publish', 8);
  const store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS), { notifyAppends: false });
  await seed(store);
  const events = await readAllEvents(store);
  const last = events[events.length - 1]!;
  const encoded = events.map(encodeEvent);
  const averageBytes = Math.round(encoded.reduce((sum, e) => sum + e.body.length, 0) / encoded.length);

  const kafkaClient: Kafka = createKafka('bench', { logCreator: kafkaLogCreator(logger) });
  const admin = kafkaClient.admin();
  await admin.connect();
  const shape = KAFKA_TOPIC_CONFIGS.find((t) => t.topic === KAFKA_TOPICS.orderEvents)!;
  await admin.createTopics({ topics: [{ ...shape, topic: BENCH_TOPIC }], waitForLeaders: true });

  const connection = await connectRabbitMq('bench-publish');
  const channel = await connection.createConfirmChannel();
  await declareEventTopology(channel);
  await channel.assertQueue(BENCH_QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(BENCH_QUEUE, EVENTS_EXCHANGE, 'Bench.#');

  const rabbit = await RabbitMqPublisher.connect({ connectionName: 'bench-relay', logger });
  const kafka = new KafkaPublisher({ kafka: kafkaClient, topic: BENCH_TOPIC, logger });
  const rawProducer = kafkaClient.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await rawProducer.connect();

  try {
    // Warm every path (connections, plans, metadata) before measuring.
    await rawRabbitMq(channel, encoded.slice(0, 2 * BATCH));
    await rawKafka(rawProducer, encoded.slice(0, 2 * BATCH));
    await rabbit.publish(events.slice(0, BATCH));
    await kafka.publish(events.slice(0, BATCH));

    // A backlog, as the relay finds it after an outage: every event older than the relay's grace for
    // the fast path (fresher ones it would leave to the workflow's publishing for a while).
    const fresh = config().RELAY_FAST_PATH_GRACE_MS - (Date.now() - last.recordedAt.getTime());
    if (fresh > 0) await new Promise((resolve) => setTimeout(resolve, fresh));

    // Interleaved rounds, so that drift on the machine hits every side alike.
    const runs = { ours: [] as Run[], rabbit: [] as Run[], kafka: [] as Run[], both: [] as Run[] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.rabbit.push(await timed(() => rawRabbitMq(channel, encoded)));
      runs.kafka.push(await timed(() => rawKafka(rawProducer, encoded)));
      await channel.purgeQueue(BENCH_QUEUE);
      runs.both.push(await timed(async () => void (await Promise.all([rawRabbitMq(channel, encoded), rawKafka(rawProducer, encoded)]))));
      await channel.purgeQueue(BENCH_QUEUE);
      const relay = new OutboxRelay({ db, store, publishers: [rabbit, kafka], checkpointPrefix: `bench-${randomUUID()}`, batchSize: BATCH, logger });
      runs.ours.push(await timed(() => relayRun(relay, last)));
      await relay.stop();
      await channel.purgeQueue(BENCH_QUEUE);
    }
    const rates = { ours: median(runs.ours, 'rate'), rabbit: median(runs.rabbit, 'rate'), kafka: median(runs.kafka, 'rate'), both: median(runs.both, 'rate') };
    const cpu = { ours: median(runs.ours, 'cpu'), rabbit: median(runs.rabbit, 'cpu'), kafka: median(runs.kafka, 'cpu') };
    const slower = Math.min(rates.rabbit, rates.kafka);
    console.log(`relay (log -> both brokers)   ${round(rates.ours, 0)} events/s`);
    console.log(`raw amqplib, confirms/${BATCH}   ${round(rates.rabbit, 0)} messages/s`);
    console.log(`raw kafkajs, acks -1, ${BATCH}   ${round(rates.kafka, 0)} messages/s`);
    console.log(
      JSON.stringify({
        events_per_s: round(rates.ours, 0),
        raw_rabbitmq_per_s: round(rates.rabbit, 0),
        raw_kafka_per_s: round(rates.kafka, 0),
        raw_both_parallel_per_s: round(rates.both, 0),
        ratio: round(rates.ours / slower),
        ratio_vs_raw_both_parallel: round(rates.ours / rates.both),
        events: EVENTS,
        batch: BATCH,
        rounds: ROUNDS,
        message_bytes: averageBytes,
        // This process's CPU per event: on a busy machine the relay, doing both brokers' work in one
        // process, is bound by it.
        cpu_us_per_event: round(cpu.ours, 1),
        raw_rabbitmq_cpu_us: round(cpu.rabbit, 1),
        raw_kafka_cpu_us: round(cpu.kafka, 1),
      }),
    );
  } finally {
    await rabbit.close();
    await kafka.close();
    await rawProducer.disconnect();
    await channel.deleteQueue(BENCH_QUEUE).catch(() => undefined);
    await connection.close();
    await admin.deleteTopics({ topics: [BENCH_TOPIC] }).catch(() => undefined);
    await admin.disconnect();
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
