import type { Knex } from 'knex';
import { createKafka } from '../infra/kafka';
import { kafkaConsumerLag, kafkaTopicDepth, type ConsumerGroupLag } from './kafka/kafka-lag';
import { kafkaTopics } from './kafka/kafka-topics';
import { rabbitQueueDepths, type QueueDepth } from './rabbitmq/rabbitmq-management';
import type { Broker } from './errors';
import { relayLag, type RelayLag } from './relay/relay-lag';

/** A section that could not be read holds the reason instead: one broker being down must not hide the rest. */
export type Section<T> = T | { error: string };

export interface MessagingStatus {
  relay: Section<RelayLag[]>;
  rabbitmqQueues: Section<QueueDepth[]>;
  kafkaConsumerGroups: Section<ConsumerGroupLag[]>;
  kafkaDlqMessages: Section<number>;
}

async function section<T>(read: () => Promise<T>): Promise<Section<T>> {
  try {
    return await read();
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Everything an operator (or /metrics) wants to know about the flow of events: relay lag per broker,
 * RabbitMQ queue depths (work, retry and parking queues), Kafka consumer-group lag and DLQ size.
 */
export interface MessagingStatusOptions {
  kafkaGroupIds?: readonly string[];
  /** The brokers to ask (default both): one known to be down would only make the answer wait. */
  brokers?: readonly Broker[];
}

export async function messagingStatus(db: Knex, options: MessagingStatusOptions = {}): Promise<MessagingStatus> {
  const asked = (broker: Broker): boolean => options.brokers?.includes(broker) ?? true;
  const notAsked = (broker: Broker) => Promise.resolve({ error: `${broker} not asked` });
  const admin = createKafka('status', { retry: { retries: 1 } }).admin();
  const kafka = asked('kafka')
    ? section(async () => {
        await admin.connect();
        return {
          groups: await kafkaConsumerLag(admin, { groupIds: options.kafkaGroupIds }),
          dlq: await kafkaTopicDepth(admin, kafkaTopics().orderEventsDlq),
        };
      }).finally(() => admin.disconnect().catch(() => undefined))
    : notAsked('kafka');
  const [relay, rabbitmqQueues, kafkaStatus] = await Promise.all([
    section(() => relayLag(db)),
    asked('rabbitmq') ? section(() => rabbitQueueDepths()) : notAsked('rabbitmq'),
    kafka,
  ]);
  return {
    relay,
    rabbitmqQueues,
    kafkaConsumerGroups: 'error' in kafkaStatus ? kafkaStatus : kafkaStatus.groups,
    kafkaDlqMessages: 'error' in kafkaStatus ? kafkaStatus : kafkaStatus.dlq,
  };
}
