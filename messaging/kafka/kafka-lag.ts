import type { Admin } from 'kafkajs';
import { kafkaTopics } from './kafka-topics';

export interface PartitionLag {
  partition: number;
  /** The group's committed offset; null when it has committed nothing on this partition. */
  committed: string | null;
  high: string;
  lag: number;
}

export interface ConsumerGroupLag {
  groupId: string;
  topic: string;
  lag: number;
  partitions: PartitionLag[];
}

/** Messages in a topic: the sum over partitions of high minus low watermark. */
export async function kafkaTopicDepth(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
}

/**
 * How far consumer groups are behind a topic's end: high watermark minus committed offset per
 * partition. A group that never committed on a partition lags by everything still retained there.
 * Without groupIds, every consumer group that has committed offsets on the topic.
 */
export async function kafkaConsumerLag(admin: Admin, options: { groupIds?: readonly string[]; topic?: string } = {}): Promise<ConsumerGroupLag[]> {
  const topic = options.topic ?? kafkaTopics().orderEvents;
  const topicOffsets = await admin.fetchTopicOffsets(topic);
  const groupIds = options.groupIds ?? (await admin.listGroups()).groups.filter((g) => g.protocolType === 'consumer').map((g) => g.groupId);
  const lags: ConsumerGroupLag[] = [];
  for (const groupId of groupIds) {
    const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedBy = new Map((fetched?.partitions ?? []).map((p) => [p.partition, p.offset]));
    if (!options.groupIds && [...committedBy.values()].every((offset) => Number(offset) < 0)) continue;
    const partitions = topicOffsets.map(({ partition, high, low }) => {
      const committed = committedBy.get(partition);
      const start = committed !== undefined && Number(committed) >= 0 ? BigInt(committed) : BigInt(low);
      return {
        partition,
        committed: committed !== undefined && Number(committed) >= 0 ? committed : null,
        high,
        lag: Number(BigInt(high) - start),
      };
    });
    lags.push({ groupId, topic, lag: partitions.reduce((sum, p) => sum + p.lag, 0), partitions });
  }
  return lags;
}
