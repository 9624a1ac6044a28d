import type { ITopicConfig } from 'kafkajs';
import { config } from '../../config';

/**
 * The base names of the system's Kafka topics, before KAFKA_TOPIC_PREFIX. Clients use kafkaTopics():
 * environments that share a cluster (tests beside `npm start`) differ only by the prefix.
 */
export const KAFKA_TOPICS = {
  /** Every order event, keyed by order id so that one order's events stay in order on one partition. */
  orderEvents: 'order-events',
  /** Messages a consumer gave up on, with the error and origin in headers. */
  orderEventsDlq: 'order-events.dlq',
} as const;

export type KafkaTopicNames = { readonly [K in keyof typeof KAFKA_TOPICS]: string };

/** The base topic shapes; kafkaTopicConfigs() gives them under a prefix. */
export const KAFKA_TOPIC_CONFIGS: readonly ITopicConfig[] = [
  { topic: KAFKA_TOPICS.orderEvents, numPartitions: 6, replicationFactor: 1 },
  { topic: KAFKA_TOPICS.orderEventsDlq, numPartitions: 1, replicationFactor: 1 },
];

const currentPrefix = (): string => config().KAFKA_TOPIC_PREFIX;

/** The topic names this environment uses. */
export function kafkaTopics(prefix: string = currentPrefix()): KafkaTopicNames {
  return { orderEvents: `${prefix}${KAFKA_TOPICS.orderEvents}`, orderEventsDlq: `${prefix}${KAFKA_TOPICS.orderEventsDlq}` };
}

/** The topics this environment needs, as the broker does not auto-create them. */
export function kafkaTopicConfigs(prefix: string = currentPrefix()): ITopicConfig[] {
  return KAFKA_TOPIC_CONFIGS.map((t) => ({ ...t, topic: `${prefix}${t.topic}` }));
}

/**
 * A fixed consumer-group name in this environment. Groups are cluster-wide, and kafkajs assigns a
 * group's partitions across all its members whatever each subscribed to: two environments sharing a
 * group name would consume each other's topics.
 */
export function kafkaGroupId(name: string, prefix: string = currentPrefix()): string {
  return `${prefix}${name}`;
}
