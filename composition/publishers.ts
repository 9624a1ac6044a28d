import type { Broker } from '../messaging/errors';
import type { Logger } from '../infra/logger';
import { KafkaPublisher } from '../messaging/kafka/kafka-publisher';
import type { EventPublisher } from '../messaging/publisher';
import { RabbitMqPublisher } from '../messaging/rabbitmq/rabbitmq-publisher';

export interface BrokerPublishers {
  publishers: EventPublisher[];
  /** Closes every publisher; never rejects. */
  close(): Promise<void>;
}

const closeAll = async (publishers: readonly EventPublisher[]): Promise<void> =>
  void (await Promise.allSettled(publishers.map((publisher) => publisher.close())));

/**
 * The relay's publishers, one per broker asked for, connected now: a broker that is down fails the start.
 * `publishedBy` goes into every message's `published-by` header.
 */
export async function connectBrokerPublishers(
  brokers: readonly Broker[],
  options: { connectionName: string; logger: Logger; publishedBy?: string },
): Promise<BrokerPublishers> {
  const publishers: EventPublisher[] = [];
  const { publishedBy } = options;
  if (brokers.includes('rabbitmq')) {
    publishers.push(await RabbitMqPublisher.connect({ connectionName: options.connectionName, logger: options.logger.child({ broker: 'rabbitmq' }), publishedBy }));
  }
  if (brokers.includes('kafka')) publishers.push(new KafkaPublisher({ logger: options.logger.child({ broker: 'kafka' }), publishedBy }));
  return { publishers, close: () => closeAll(publishers) };
}

/**
 * Publishers for the order worker's publishing activity, connected on first use: a broker that is down
 * when the worker starts must not keep orders from running (the relay delivers whatever this path misses).
 */
export function lazyBrokerPublishers(connectionName: string): BrokerPublishers {
  let rabbit: Promise<EventPublisher> | undefined;
  const kafka = new KafkaPublisher({ publishedBy: connectionName });
  const rabbitmq: EventPublisher = {
    broker: 'rabbitmq',
    maxInFlightBatches: 1,
    async publish(events) {
      rabbit ??= RabbitMqPublisher.connect({ connectionName, publishedBy: connectionName });
      const publisher = await rabbit.catch((err: unknown) => {
        rabbit = undefined;
        throw err;
      });
      await publisher.publish(events);
    },
    async close() {
      await (await rabbit?.catch(() => undefined))?.close();
    },
  };
  const publishers = [rabbitmq, kafka];
  return { publishers, close: () => closeAll(publishers) };
}
