import type { Kafka, Message, Producer } from 'kafkajs';
import type { StoredEvent } from '../../eventstore';
import { createIdempotentProducer, createKafka } from '../../infra/kafka';
import { createLogger, type Logger } from '../../infra/logger';
import { withTimeout } from '../async';
import { encodeEvent, headersPublishedBy, type EncodedEvent } from '../envelope';
import { BrokerUnavailableError, MessagingError, PublishFailedError } from '../errors';
import { kafkaTopics } from './kafka-topics';
import { kafkaLogCreator } from './kafka-logging';
import type { EventPublisher } from '../publisher';

export interface KafkaPublisherOptions {
  /** Defaults to a client built by infra/kafka.ts with logs routed to `logger`. */
  kafka?: Kafka;
  logger?: Logger;
  topic?: string;
  /** How long one batch (including connecting) may take before it fails and the producer is replaced (default 15 s). */
  sendTimeoutMs?: number;
  /** Put in each message's `published-by` header: which path sent the copy (duplicates can be told apart). */
  publishedBy?: string;
}

/**
 * Publishes events to the order-events topic with the idempotent producer and acks from all
 * in-sync replicas, keyed by order id so one order's events stay in order on one partition.
 *
 * The producer retries a failing send without end (infra/kafka.ts), which would stall the caller for
 * as long as the broker is down; a batch is therefore bounded by a timeout, after which the producer
 * is dropped (stopping its retries) and a new one is made for the next batch. Anything the old one
 * still delivers is a duplicate, which consumers drop.
 */
export class KafkaPublisher implements EventPublisher {
  readonly broker = 'kafka' as const;
  /**
   * One batch at a time: a batch that fails for good (not retried by the producer) must not be
   * overtaken by the next one, or an order's events would first appear out of order.
   */
  readonly maxInFlightBatches = 1;
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private producer: Promise<Producer> | undefined;
  private closed = false;

  constructor(private readonly options: KafkaPublisherOptions = {}) {
    this.logger = options.logger ?? createLogger('kafka-publisher');
    this.kafka = options.kafka ?? createKafka('publisher', { logCreator: kafkaLogCreator(this.logger) });
  }

  async publish(events: readonly StoredEvent[]): Promise<void> {
    if (this.closed) throw new MessagingError('Kafka publisher is closed');
    if (events.length === 0) return;
    const encoded = events.map(encodeEvent);
    const eventIds = encoded.map((e) => e.envelope.eventId);
    const timeoutMs = this.options.sendTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;

    const connecting = this.connectedProducer();
    let producer: Producer;
    try {
      producer = await withTimeout(connecting, timeoutMs, () => new Error(`not connected within ${timeoutMs} ms`));
    } catch (err) {
      this.reset(connecting);
      throw new BrokerUnavailableError('kafka', (err as Error).message, { cause: err });
    }
    let send: Promise<unknown> | undefined;
    try {
      send = producer.sendBatch({
        acks: -1,
        topicMessages: [{ topic: this.options.topic ?? kafkaTopics().orderEvents, messages: encoded.map((event) => toKafkaMessage(event, this.options.publishedBy)) }],
      });
      const left = Math.max(1, deadline - Date.now());
      await withTimeout(send, left, () => new Error(`no acknowledgement within ${timeoutMs} ms`));
    } catch (err) {
      this.reset(connecting, send);
      throw new PublishFailedError('kafka', eventIds, (err as Error).message, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  private connectedProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const producer = createIdempotentProducer(this.kafka);
      await producer.connect();
      return producer;
    })();
    return this.producer;
  }

  /**
   * Drops a producer after a failed batch. A send still retrying inside kafkajs reconnects the
   * producer after a disconnect (kafkajs#1438), which would leak a connection per outage: the
   * producer is disconnected again once that send settles.
   */
  private reset(failed: Promise<Producer>, abandoned?: Promise<unknown>): void {
    if (this.producer !== failed) return;
    this.producer = undefined;
    const disconnect = (): Promise<void> =>
      failed
        .then((p) => p.disconnect())
        .catch((err: unknown) => this.logger.debug({ err: (err as Error).message }, 'dropping a failed kafka producer'));
    void disconnect();
    abandoned?.then(disconnect, disconnect);
    this.logger.warn('kafka producer replaced after a failed batch');
  }
}

/**
 * The record's timestamp is left to the producer (now): time-based retention looks at it, and an
 * old event relayed late with its recordedAt would be deleted at once. recordedAt is in the body.
 */
export function toKafkaMessage(event: EncodedEvent, publishedBy?: string): Message {
  return { key: event.partitionKey, value: event.body, headers: headersPublishedBy(event.headers, publishedBy) };
}
