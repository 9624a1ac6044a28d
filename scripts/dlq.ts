/**
 * Dead letters on both brokers.
 *
 *   npm run dlq -- list
 *       RabbitMQ: every parking queue (<consumer>.dlq) and events.unroutable with its depth, and the
 *       first parked messages of each non-empty one. Kafka: the DLQ topic's messages per consumer group,
 *       with how many still wait for a replay.
 *
 *   npm run dlq -- replay <consumer> [--broker rabbitmq|kafka]
 *       Gives a consumer's parked messages a fresh set of attempts (both brokers unless --broker):
 *       - RabbitMQ: moves them from <consumer>.dlq back to the work queue <consumer>, with the
 *         attempt counter and error headers removed (messaging/rabbitmq/dlq-rabbitmq.ts).
 *       - Kafka (<consumer> is the consumer group): re-produces the group's parked messages to their
 *         original topic, keyed as before, tagged x-replay-for=<group> so that only that group handles
 *         them; other groups skip them. This is the simplest correct replay: it needs no offset reset,
 *         so the group keeps running, no other group is disturbed, and progress is tracked by the
 *         group <group>.dlq-replay (messaging/kafka/dlq-kafka.ts).
 *       Replay after fixing the cause: a message that fails again is parked again.
 */
import { createIdempotentProducer, createKafka, createLogger } from '../infra';
import { kafkaTopics } from '../messaging/kafka/kafka-topics';
import { kafkaLogCreator } from '../messaging/kafka/kafka-logging';
import { listKafkaParked, replayKafkaParked } from '../messaging/kafka/dlq-kafka';
import { peekParked, replayParked } from '../messaging/rabbitmq/dlq-rabbitmq';
import { connectRabbitMq } from '../infra/rabbitmq';
import { rabbitQueueDepths } from '../messaging/rabbitmq/rabbitmq-management';
import { PARKING_SUFFIX, UNROUTABLE_QUEUE } from '../messaging/rabbitmq/rabbitmq-topology';

type BrokerChoice = 'rabbitmq' | 'kafka';

const USAGE = 'usage: npm run dlq -- list | replay <consumer> [--broker rabbitmq|kafka]';

function kafkaClient() {
  const logger = createLogger('dlq');
  logger.level = 'error';
  return createKafka('dlq', { logCreator: kafkaLogCreator(logger) });
}

async function listRabbitMq(): Promise<void> {
  const queues = await rabbitQueueDepths((name) => name.endsWith(PARKING_SUFFIX) || name === UNROUTABLE_QUEUE);
  console.log('RabbitMQ parking queues, and events no consumer was bound for (events.unroutable)');
  if (queues.length === 0) console.log('  (none)');
  const connection = await connectRabbitMq('dlq-list');
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    for (const queue of queues) {
      console.log(`  ${queue.name.padEnd(60)} ${String(queue.messages).padStart(8)} message(s)`);
      if (queue.messages === 0 || queue.name === UNROUTABLE_QUEUE) continue;
      const consumer = queue.name.slice(0, -PARKING_SUFFIX.length);
      for (const parked of await peekParked(channel, consumer, 5)) {
        const why = parked.error ?? `dead-lettered: ${parked.deadLetterReason ?? 'unknown'}`;
        console.log(`      ${parked.messageId ?? '?'}  ${parked.routingKey ?? ''}  attempts=${parked.failedAttempts ?? '?'}  ${why}`);
      }
    }
    await channel.close();
  } finally {
    await connection.close();
  }
}

async function listKafka(): Promise<void> {
  const parked = await listKafkaParked(kafkaClient());
  console.log(`Kafka DLQ topic ${kafkaTopics().orderEventsDlq}: ${parked.length} message(s)`);
  const byGroup = new Map<string, { total: number; pending: number }>();
  for (const message of parked) {
    const group = message.consumerGroup ?? '(no group)';
    const counts = byGroup.get(group) ?? { total: 0, pending: 0 };
    counts.total++;
    if (message.pending) counts.pending++;
    byGroup.set(group, counts);
  }
  for (const [group, counts] of byGroup) console.log(`  ${group.padEnd(60)} ${counts.total} parked, ${counts.pending} not yet replayed`);
  for (const message of parked.filter((m) => m.pending).slice(-10)) {
    console.log(`      ${message.partition}/${message.offset}  ${message.consumerGroup ?? '?'}  ${message.eventId ?? '?'}  ${message.type ?? ''}  ${message.error ?? ''}`);
  }
}

async function replayRabbitMq(consumer: string, explicit: boolean): Promise<void> {
  const connection = await connectRabbitMq('dlq-replay');
  try {
    const channel = await connection.createConfirmChannel();
    // The failing operation rejects too; the event would otherwise be an uncaught 'error'.
    channel.on('error', () => undefined);
    const moved = await replayParked(channel, consumer);
    console.log(`RabbitMQ: moved ${moved} message(s) from ${consumer}${PARKING_SUFFIX} back to ${consumer}`);
    await channel.close();
  } catch (err) {
    if ((err as { code?: unknown }).code !== 404) throw err;
    console.log(`RabbitMQ: no consumer queues named ${consumer}`);
    if (explicit) process.exitCode = 1;
  } finally {
    await connection.close();
  }
}

async function replayKafka(group: string): Promise<void> {
  const kafka = kafkaClient();
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    const replayed = await replayKafkaParked(kafka, producer, group);
    console.log(`Kafka: re-produced ${replayed} message(s) for consumer group ${group}`);
  } finally {
    await producer.disconnect();
  }
}

function brokerOption(args: readonly string[]): BrokerChoice[] {
  const index = args.indexOf('--broker');
  if (index < 0) return ['rabbitmq', 'kafka'];
  const value = args[index + 1];
  if (value !== 'rabbitmq' && value !== 'kafka') throw new Error(`--broker must be rabbitmq or kafka\n${USAGE}`);
  return [value];
}

async function main(args: readonly string[]): Promise<void> {
  const [command, consumer] = args;
  if (command === 'list') {
    await listRabbitMq();
    await listKafka();
    return;
  }
  if (command === 'replay' && consumer && !consumer.startsWith('--')) {
    const brokers = brokerOption(args);
    if (brokers.includes('rabbitmq')) await replayRabbitMq(consumer, brokers.length === 1);
    if (brokers.includes('kafka')) await replayKafka(consumer);
    return;
  }
  throw new Error(USAGE);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
