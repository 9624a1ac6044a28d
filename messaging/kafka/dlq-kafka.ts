import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { FAILURE_HEADERS, copyableHeaders } from '../dead-letter-headers';
import { headerText } from './kafka-consumer';
import { kafkaTopics } from './kafka-topics';

/*
 * The Kafka DLQ topic holds every group's parked messages, each tagged with x-consumer-group.
 *
 * Replay for one group re-produces that group's parked messages to their original topic (same key,
 * so the same partition) with x-replay-for: <group>. The group handles them like any message; every
 * other group skips them (kafka-consumer.ts), so a replay is per consumer without resetting anyone's
 * offsets and without stopping the group. How far a group's DLQ was replayed is the committed offset
 * of the group `<group>.dlq-replay` on the DLQ topic: each message is committed only after its copy
 * was acknowledged, so a replay that crashes resumes where it stopped and duplicates at most one
 * message (which the consumer deduplicates). A replayed message that fails again is parked again,
 * after the replay's snapshot, and waits for the next replay.
 */

export const replayGroupId = (groupId: string): string => `${groupId}.dlq-replay`;

export interface KafkaParkedMessage {
  partition: number;
  offset: string;
  consumerGroup: string | undefined;
  eventId: string | undefined;
  type: string | undefined;
  error: string | undefined;
  failedAt: string | undefined;
  /** Not yet replayed for its group. */
  pending: boolean;
}

type Positions = Map<number, bigint>;

async function highWatermarks(admin: Admin, topic: string): Promise<{ low: Positions; high: Positions }> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return {
    low: new Map(offsets.map((p) => [p.partition, BigInt(p.low)])),
    high: new Map(offsets.map((p) => [p.partition, BigInt(p.high)])),
  };
}

async function committedPositions(admin: Admin, groupId: string, topic: string): Promise<Positions> {
  const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((fetched?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, BigInt(p.offset)]));
}

/**
 * Reads a topic with a consumer of the given group, from the group's committed offsets (`from`; the
 * earliest retained offset where it has none) up to the high watermarks taken at the start. With
 * `commit`, each message's offset is committed after `onMessage` resolved.
 */
async function readUpToSnapshot(
  kafka: Kafka,
  topic: string,
  groupId: string,
  options: { from: Positions; commit: boolean },
  onMessage: (partition: number, message: KafkaMessage) => Promise<void>,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let remaining: Map<number, bigint>;
  try {
    const { low, high } = await highWatermarks(admin, topic);
    const start = (partition: number): bigint => {
      const earliest = low.get(partition) ?? 0n;
      const committed = options.from.get(partition) ?? earliest;
      return committed > earliest ? committed : earliest;
    };
    remaining = new Map([...high].filter(([partition, end]) => end > start(partition)));
    if (remaining.size === 0) return;
  } finally {
    await admin.disconnect();
  }

  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) reject(payload.error);
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = remaining.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            await onMessage(partition, message);
            if (options.commit) {
              await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            }
            if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

function describe(partition: number, message: KafkaMessage, replayedUpTo: Positions | undefined): KafkaParkedMessage {
  const header = (name: string): string | undefined => headerText(message.headers, name);
  return {
    partition,
    offset: message.offset,
    consumerGroup: header(FAILURE_HEADERS.consumerGroup),
    eventId: header('message-id'),
    type: header('type'),
    error: header(FAILURE_HEADERS.errorMessage),
    failedAt: header(FAILURE_HEADERS.failedAt),
    pending: BigInt(message.offset) >= (replayedUpTo?.get(partition) ?? 0n),
  };
}

/** Every message in the DLQ topic, with whether it still waits for a replay for its group. */
export async function listKafkaParked(kafka: Kafka, dlqTopic: string = kafkaTopics().orderEventsDlq): Promise<KafkaParkedMessage[]> {
  const raw: { partition: number; message: KafkaMessage }[] = [];
  const readerGroup = `dlq-list-${randomUUID()}`;
  await readUpToSnapshot(kafka, dlqTopic, readerGroup, { from: new Map(), commit: false }, async (partition, message) => {
    raw.push({ partition, message });
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // The reader's group served only this listing.
    await admin.deleteGroups([readerGroup]).catch(() => undefined);
    const groups = new Set(raw.map((r) => headerText(r.message.headers, FAILURE_HEADERS.consumerGroup)).filter((g): g is string => g !== undefined));
    const replayed = new Map<string, Positions>();
    for (const group of groups) replayed.set(group, await committedPositions(admin, replayGroupId(group), dlqTopic));
    return raw.map(({ partition, message }) => {
      const group = headerText(message.headers, FAILURE_HEADERS.consumerGroup);
      return describe(partition, message, group === undefined ? undefined : replayed.get(group));
    });
  } finally {
    await admin.disconnect();
  }
}

/** Re-produces one group's parked messages for that group only; returns how many. */
export async function replayKafkaParked(
  kafka: Kafka,
  producer: Producer,
  groupId: string,
  dlqTopic: string = kafkaTopics().orderEventsDlq,
): Promise<number> {
  let replayed = 0;
  const admin = kafka.admin();
  await admin.connect();
  const from = await committedPositions(admin, replayGroupId(groupId), dlqTopic).finally(() => admin.disconnect());
  await readUpToSnapshot(kafka, dlqTopic, replayGroupId(groupId), { from, commit: true }, async (_partition, message) => {
    if (headerText(message.headers, FAILURE_HEADERS.consumerGroup) !== groupId) return;
    const topic = headerText(message.headers, FAILURE_HEADERS.originalTopic) ?? kafkaTopics().orderEvents;
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: { ...copyableHeaders(message.headers ?? {}, { resetFailures: true }), [FAILURE_HEADERS.replayFor]: groupId },
        },
      ],
    });
    replayed++;
  });
  return replayed;
}
