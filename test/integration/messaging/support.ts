import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import type { Consumer, Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { EventRegistry, PostgresEventStore, saveCheckpoint, type GlobalCheckpoint, type NewEvent, type StoredEvent } from '../../../eventstore';
import { ORDER_EVENT_DEFINITIONS, orderStreamId } from '../../../domain/order/events';
import { connectRabbitMq, createKafka, createLogger } from '../../../infra';
import type { Logger } from '../../../infra/logger';
import { parseEnvelope, type EventEnvelope } from '../../../messaging/envelope';
import { kafkaLogCreator } from '../../../messaging/kafka/kafka-logging';
import { KafkaPublisher } from '../../../messaging/kafka/kafka-publisher';
import { kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { relayCheckpointId } from '../../../messaging/relay/outbox-relay';
import { EVENTS_EXCHANGE, declareEventTopology } from '../../../messaging/rabbitmq/rabbitmq-topology';
import { ThingHappened, ThingRenamed } from '../../support/test-events';

import { REPO_DIR } from '../../support/stack';

export { stackService } from '../../support/stack';

/** Shared helpers of the messaging integration tests (not a test file itself). */

/** Quiet unless LOG_LEVEL asks otherwise: broker outages are expected here and log warnings. */
export function testLogger(name: string): Logger {
  const logger = createLogger(name);
  logger.level = process.env.LOG_LEVEL ?? 'silent';
  return logger;
}

export function testKafka(name: string): Kafka {
  return createKafka(`test-${name}`, { logCreator: kafkaLogCreator(testLogger(`kafka-${name}`)) });
}

/** Order events plus the event-store tests' types: the shared test database holds both. */
export const messagingRegistry = (): EventRegistry => new EventRegistry([...ORDER_EVENT_DEFINITIONS, ThingHappened, ThingRenamed]);

export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** An order's first events: OrderCreated, then OrderItemAdded for the rest. */
export function orderEvents(orderId: string, count: number, fromVersion = 0): NewEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const version = fromVersion + i + 1;
    if (version === 1) {
      return {
        eventId: randomUUID(),
        type: 'OrderCreated',
        data: { orderId, customerId: 'customer-1', currency: 'USD', createdAt: new Date().toISOString() },
        metadata: { correlationId: `corr-${orderId}`, causationId: 'test', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      };
    }
    return {
      eventId: randomUUID(),
      type: 'OrderItemAdded',
      data: { orderId, sku: `SKU-${version}`, quantity: 1, unitPrice: { amountMinor: 100 * version, currency: 'USD' } },
      metadata: { correlationId: `corr-${orderId}` },
    };
  });
}

/**
 * An order's events as if stored, but not in the database: no relay (other tests or processes may run
 * one on the shared database) publishes them, so a test that publishes them itself sees only its own.
 */
export function unstoredOrderEvents(count: number): StoredEvent[] {
  const orderId = randomUUID();
  return orderEvents(orderId, count).map((event, i) => ({
    globalPosition: BigInt(i + 1),
    transactionId: 1n,
    streamId: orderStreamId(orderId),
    streamType: 'Order',
    streamVersion: i + 1,
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.type === 'OrderCreated' ? 2 : 1,
    data: event.data,
    metadata: event.metadata ?? {},
    recordedAt: new Date(),
  }));
}

/** Appends `count` events to an order's stream after `fromVersion`; returns their event ids. */
export async function appendOrder(store: PostgresEventStore, orderId: string, count: number, fromVersion = 0): Promise<string[]> {
  const events = orderEvents(orderId, count, fromVersion);
  await store.append(orderStreamId(orderId), events, { expectedVersion: fromVersion === 0 ? 'no_stream' : fromVersion });
  return events.map((e) => e.eventId);
}

/** Appends to a handful of orders in turn until stopped; remembers every committed event id. */
export function backgroundAppender(store: PostgresEventStore, orders: readonly string[]) {
  const versions = new Map(orders.map((o) => [o, 0]));
  const committed: string[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const orderId = orders[i % orders.length]!;
      const from = versions.get(orderId)!;
      committed.push(...(await appendOrder(store, orderId, 2, from)));
      versions.set(orderId, from + 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    committed,
    async stop(): Promise<string[]> {
      running = false;
      await loop;
      return committed;
    },
  };
}

/** The current end of the log: a test relay starts here, so it publishes only what the test appends. */
export async function checkpointAtHead(db: Knex): Promise<GlobalCheckpoint> {
  const { rows } = await db.raw<{ rows: { txid: string; global_position: string }[] }>(
    'SELECT transaction_id::text AS txid, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
  );
  const row = rows[0];
  return row ? { transactionId: BigInt(row.txid), globalPosition: BigInt(row.global_position) } : { transactionId: 0n, globalPosition: 0n };
}

/** Where an event stands in the global log. */
export async function positionOf(db: Knex, eventId: string): Promise<GlobalCheckpoint> {
  const row = await db('events').where({ event_id: eventId }).first<{ txid: string; global_position: string }>(db.raw('transaction_id::text AS txid'), 'global_position');
  if (!row) throw new Error(`No event ${eventId}`);
  return { transactionId: BigInt(row.txid), globalPosition: BigInt(row.global_position) };
}

/** Whether a checkpoint is at or past a position, in the log's (transaction id, position) order. */
export const reached = (checkpoint: GlobalCheckpoint, position: GlobalCheckpoint): boolean =>
  checkpoint.transactionId > position.transactionId ||
  (checkpoint.transactionId === position.transactionId && checkpoint.globalPosition >= position.globalPosition);

/** Places both lanes of a relay with this checkpoint prefix at the end of the log. */
export async function positionRelayAtHead(db: Knex, prefix: string): Promise<void> {
  const head = await checkpointAtHead(db);
  for (const broker of ['rabbitmq', 'kafka'] as const) await saveCheckpoint(db, relayCheckpointId(prefix, broker), head);
}

/** Polls until the check passes; fails with the description and the last state when it times out. */
export async function waitFor<T>(description: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}


/**
 * A table where test handlers record each effect they apply, with no uniqueness: an event applied
 * twice shows up as two rows.
 */
export async function ensureEffectsTable(db: Knex): Promise<void> {
  await db.raw(`CREATE TABLE IF NOT EXISTS messaging_test_effects (
    seq bigserial PRIMARY KEY,
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    stream_id text NOT NULL,
    stream_version integer NOT NULL
  )`);
}

export async function recordEffect(trx: Knex.Transaction, consumer: string, envelope: EventEnvelope): Promise<void> {
  await trx('messaging_test_effects').insert({ consumer, event_id: envelope.eventId, stream_id: envelope.streamId, stream_version: envelope.streamVersion });
}

export interface EffectCounts {
  distinct: number;
  total: number;
  duplicated: string[];
}

export async function effectCounts(db: Knex, consumer: string): Promise<EffectCounts> {
  const rows = await db('messaging_test_effects').where({ consumer }).select('event_id').count<{ event_id: string; count: string }[]>('* as count').groupBy('event_id');
  return {
    distinct: rows.length,
    total: rows.reduce((sum, r) => sum + Number(r.count), 0),
    duplicated: rows.filter((r) => Number(r.count) > 1).map((r) => r.event_id),
  };
}

export async function appliedEventIds(db: Knex, consumer: string): Promise<Set<string>> {
  const rows = await db('messaging_test_effects').where({ consumer }).select<{ event_id: string }[]>('event_id');
  return new Set(rows.map((r) => r.event_id));
}

/** A throwaway queue bound to `events` that records what arrives, for asserting on publishes. */
export interface RabbitTap {
  messages: { envelope: EventEnvelope; message: ConsumeMessage }[];
  eventIds(): string[];
  close(): Promise<void>;
}

export async function openRabbitTap(bindingKey = '#'): Promise<RabbitTap> {
  const connection: ChannelModel = await connectRabbitMq('test-tap');
  const channel = await connection.createChannel();
  await declareEventTopology(channel);
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, EVENTS_EXCHANGE, bindingKey);
  const messages: RabbitTap['messages'] = [];
  await channel.consume(
    queue,
    (message) => {
      if (message) messages.push({ envelope: parseEnvelope(message.content), message });
    },
    { noAck: true },
  );
  return {
    messages,
    eventIds: () => messages.map((m) => m.envelope.eventId),
    async close() {
      await connection.close();
    },
  };
}

/** A consumer group placed at the current end of order-events that records what arrives. */
export interface KafkaTap {
  messages: { envelope: EventEnvelope; key: string | undefined; partition: number; headers: Record<string, string> }[];
  eventIds(): string[];
  close(): Promise<void>;
}

/**
 * A new consumer group that sees everything produced to the topic from now on: it starts each
 * partition at the end offsets read before it returns, whenever its partitions are assigned.
 */
/**
 * A Kafka topic of the test's own, where no relay publishes, with a publisher to it and a tap on it:
 * to see exactly what one publishing path sent. close() deletes the topic.
 */
export async function openOwnTopic(name: string, logger: Logger): Promise<{ publisher: KafkaPublisher; tap: KafkaTap; close(): Promise<void> }> {
  const admin = testKafka(name).admin();
  const topic = uniqueName(`test-${name}`);
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
  const publisher = new KafkaPublisher({ topic, logger });
  const tap = await openKafkaTap(topic);
  return {
    publisher,
    tap,
    async close() {
      await tap.close();
      await publisher.close();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** `fromBeginning`: everything the topic holds, not only what comes after the call. */
export async function openKafkaTap(topic: string = kafkaTopics().orderEvents, options: { fromBeginning?: boolean } = {}): Promise<KafkaTap> {
  const kafka = testKafka('tap');
  const groupId = uniqueName('test-tap');
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? false });
  const messages: KafkaTap['messages'] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v[0] : v)]));
      messages.push({ envelope: parseEnvelope(message.value), key: message.key?.toString(), partition, headers });
    },
  });
  // Applied at each partition's first fetch; a partition fetched already started at a later "latest",
  // still before anything the test produces next.
  if (!options.fromBeginning) for (const { partition, high } of ends) consumer.seek({ topic, partition, offset: high });
  return {
    messages,
    eventIds: () => messages.map((m) => m.envelope.eventId),
    async close() {
      await consumer.stop();
      await consumer.disconnect();
      const cleanup = kafka.admin();
      await cleanup.connect();
      await cleanup.deleteGroups([groupId]).catch(() => undefined);
      await cleanup.disconnect();
    },
  };
}

/** Creates a topic for one test, so that what it sees there is its own. */
export async function createTestTopic(kafka: Kafka, prefix: string, numPartitions = 3): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  return topic;
}

export async function deleteTestTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [...topics] }).catch(() => undefined);
  await admin.disconnect();
}

export const containsAll = (seen: readonly string[], expected: readonly string[]): boolean => {
  const set = new Set(seen);
  return expected.every((id) => set.has(id));
};

/** The relay process (workers/relay.ts) as a child, run by node itself so that signals reach it directly. */
export class RelayProcess {
  private readonly child: ChildProcess;
  private readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `env` is put over this process's environment (RELAY_CHECKPOINT_PREFIX at least). */
  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'workers', 'relay.ts')], {
      cwd: REPO_DIR,
      env: { ...process.env, RELAY_MAX_POLL_INTERVAL_MS: '200', RELAY_METRICS_PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.lines.push(line));
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Both lanes started: the relay follows the log from its checkpoints. */
  async started(): Promise<void> {
    await waitFor('the relay process to start both lanes', async () => this.lines.filter((l) => l.includes('relay lane started')).length, (n) => n === 2, 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${this.lines.slice(-20).join('\n')}`);
      },
    );
  }

  /** The port of its health and metrics server. */
  metricsPort(): number {
    const line = this.lines.find((l) => l.includes('"relay serving health and metrics"'));
    if (!line) throw new Error('the relay has not said where it serves metrics');
    return (JSON.parse(line) as { metricsPort: number }).metricsPort;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  log(): string[] {
    return this.lines;
  }
}
