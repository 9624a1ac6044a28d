import type { ITopicConfig } from 'kafkajs';

/** Every Kafka topic the system uses. The broker does not auto-create topics: these are created explicitly. */
export const KAFKA_TOPICS = {
  /** Every order event, keyed by order id so that one order's events stay in order on one partition. */
  orderEvents: 'order-events',
  /** Messages a consumer gave up on, with the error and origin in headers. */
  orderEventsDlq: 'order-events.dlq',
} as const;

export const KAFKA_TOPIC_CONFIGS: ITopicConfig[] = [
  { topic: KAFKA_TOPICS.orderEvents, numPartitions: 6, replicationFactor: 1 },
  { topic: KAFKA_TOPICS.orderEventsDlq, numPartitions: 1, replicationFactor: 1 },
];
