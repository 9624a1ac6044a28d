import { Kafka, Partitioners, logLevel, type KafkaConfig, type Producer, type SASLOptions } from 'kafkajs';
import { config } from '../config';
// Every Kafka client is built here: this fixes kafkajs's request queue for all of them (see the file).
import './kafkajs-request-queue';

function sasl(): SASLOptions | undefined {
  const env = config();
  if (!env.KAFKA_SASL_MECHANISM) return undefined;
  const credentials = { username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' };
  switch (env.KAFKA_SASL_MECHANISM) {
    case 'plain':
      return { mechanism: 'plain', ...credentials };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', ...credentials };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', ...credentials };
  }
}

/** The one way to build a Kafka client: brokers, TLS and SASL come from the environment. */
export function createKafka(clientIdSuffix?: string, overrides: Partial<KafkaConfig> = {}): Kafka {
  const env = config();
  return new Kafka({
    clientId: clientIdSuffix ? `${env.KAFKA_CLIENT_ID}-${clientIdSuffix}` : env.KAFKA_CLIENT_ID,
    brokers: env.KAFKA_BROKERS,
    ssl: env.KAFKA_SSL || undefined,
    sasl: sasl(),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    ...overrides,
  });
}

/**
 * An idempotent producer: kafkajs requires one request in flight for it, and unbounded retries so
 * that a retry never reorders or duplicates. Keys are hashed with murmur2 like the Java client.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}
