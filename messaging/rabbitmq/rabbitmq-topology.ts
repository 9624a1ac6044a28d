import type { Channel } from 'amqplib';
import { retryPolicy, usedDelays, type RetryPolicy } from '../retry-policy';

/*
 * RabbitMQ topology, declared in code by whoever needs it (publisher and consumers alike), so a fresh
 * broker needs no setup. Every declaration is idempotent: declaring with the same arguments again is
 * a no-op. Queue arguments cannot change in place; RabbitMQ refuses a redeclaration with other
 * arguments (PRECONDITION_FAILED), so changing a consumer's retry delays means a new consumer name or
 * deleting its queues first.
 *
 *   events (topic) ──<streamType>.<type>──▶ <consumer>            quorum work queue
 *      │ alternate exchange                    │ failure: consumer republishes (attempt n) to
 *      ▼                                       ▼
 *   events.unroutable (fanout) ─▶ queue     <consumer>.retry.<ms>  quorum, x-message-ttl, dead-letters
 *                                              │                   back to <consumer> when it expires
 *                                              ▼ after maxAttempts, or past x-delivery-limit
 *                                           <consumer>.dlq         parking queue
 */

export const EVENTS_EXCHANGE = 'events';
/** Where `events` sends what no binding matched, so an unroutable event is kept, never dropped. */
export const UNROUTABLE_EXCHANGE = 'events.unroutable';
export const UNROUTABLE_QUEUE = 'events.unroutable';

/**
 * The unroutable queue keeps the newest events that no consumer was bound for, as a diagnostic
 * window: past this many it drops the oldest. Unbounded, it would grow with every event type nobody
 * subscribes to until the broker's disk or memory alarm stopped all publishing. The event log stays
 * the record: a relay checkpoint moved back republishes anything.
 */
export const UNROUTABLE_MAX_LENGTH = 100_000;

export const PARKING_SUFFIX = '.dlq';
export const retryQueueName = (consumerName: string, delayMs: number): string => `${consumerName}.retry.${delayMs}`;
export const parkingQueueName = (consumerName: string): string => `${consumerName}${PARKING_SUFFIX}`;

/** Redeliveries (consumer crashes or channel losses before an ack) after which the broker parks a message. */
export const DEFAULT_DELIVERY_LIMIT = 10;

// Dead-lettering that waits for the target queue's confirm: the default (at-most-once) can lose a
// message if the broker fails while moving it. RabbitMQ requires reject-publish overflow with it.
const AT_LEAST_ONCE_DEAD_LETTERING = { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' };
const QUORUM = { 'x-queue-type': 'quorum' };

export async function declareEventTopology(channel: Channel): Promise<void> {
  await channel.assertExchange(UNROUTABLE_EXCHANGE, 'fanout', { durable: true });
  await channel.assertQueue(UNROUTABLE_QUEUE, {
    durable: true,
    arguments: { ...QUORUM, 'x-max-length': UNROUTABLE_MAX_LENGTH, 'x-overflow': 'drop-head' },
  });
  await channel.bindQueue(UNROUTABLE_QUEUE, UNROUTABLE_EXCHANGE, '');
  await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true, alternateExchange: UNROUTABLE_EXCHANGE });
}

export interface ConsumerQueueOptions {
  retryDelaysMs?: readonly number[];
  /** Handler attempts in all before parking; defaults to one more than the retry delays. */
  maxAttempts?: number;
  /** Redeliveries of one message (crashes before an ack) before the broker itself parks it. */
  deliveryLimit?: number;
}

export interface ConsumerQueues {
  consumerName: string;
  workQueue: string;
  parkingQueue: string;
  /** Retry queue name by delay. */
  retryQueues: ReadonlyMap<number, string>;
  policy: RetryPolicy;
}

const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,200}$/;

/** The names and policy of a consumer's queues, without touching the broker. */
export function consumerQueues(consumerName: string, options: ConsumerQueueOptions = {}): ConsumerQueues {
  if (!CONSUMER_NAME.test(consumerName)) throw new RangeError(`Invalid consumer name "${consumerName}"`);
  const policy = retryPolicy(options);
  return {
    consumerName,
    workQueue: consumerName,
    parkingQueue: parkingQueueName(consumerName),
    retryQueues: new Map(usedDelays(policy).map((delay) => [delay, retryQueueName(consumerName, delay)])),
    policy,
  };
}

/**
 * Declares a consumer's work queue (bound to `events` with the binding keys), one retry queue per
 * delay and its parking queue. The retry queues are plain TTL queues: a message waiting for its next
 * attempt sits durably in the broker, never in a consumer's timer, so a crash loses nothing.
 */
export async function declareConsumerQueue(
  channel: Channel,
  consumerName: string,
  bindingKeys: readonly string[],
  options: ConsumerQueueOptions = {},
): Promise<ConsumerQueues> {
  const queues = consumerQueues(consumerName, options);
  await declareEventTopology(channel);
  await channel.assertQueue(queues.parkingQueue, { durable: true, arguments: QUORUM });
  await channel.assertQueue(queues.workQueue, {
    durable: true,
    arguments: {
      ...QUORUM,
      ...AT_LEAST_ONCE_DEAD_LETTERING,
      // Only a message that keeps killing its consumer gets here (handler errors are retried by the
      // consumer): the broker parks it after this many redeliveries.
      'x-delivery-limit': options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queues.parkingQueue,
    },
  });
  for (const [delayMs, queue] of queues.retryQueues) {
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        ...QUORUM,
        ...AT_LEAST_ONCE_DEAD_LETTERING,
        // A per-queue TTL: every message in the queue waits as long, so expiry at the head is exact.
        'x-message-ttl': delayMs,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queues.workQueue,
      },
    });
  }
  for (const key of bindingKeys) await channel.bindQueue(queues.workQueue, EVENTS_EXCHANGE, key);
  return queues;
}
