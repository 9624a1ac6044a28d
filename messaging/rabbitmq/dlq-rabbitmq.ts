import type { ConfirmChannel, GetMessage } from 'amqplib';
import { FAILURE_HEADERS } from '../dead-letter-headers';
import { parkingQueueName } from './rabbitmq-topology';
import { sendCopy } from './rabbitmq-copy';

/** A parked message as an operator wants to see it. */
export interface ParkedMessage {
  messageId: string | undefined;
  type: string | undefined;
  routingKey: string | undefined;
  failedAttempts: number | undefined;
  error: string | undefined;
  failedAt: string | undefined;
  /** The broker parked it itself (x-delivery-limit) rather than the consumer after failed attempts. */
  deadLetterReason: string | undefined;
}

function describe(message: GetMessage): ParkedMessage {
  const headers = message.properties.headers ?? {};
  const text = (value: unknown): string | undefined => (value === undefined || value === null ? undefined : String(value));
  const attempts = text(headers[FAILURE_HEADERS.failedAttempts]);
  return {
    messageId: text(message.properties.messageId),
    type: text(message.properties.type),
    routingKey: text(headers[FAILURE_HEADERS.originalRoutingKey]) ?? message.fields.routingKey,
    failedAttempts: attempts === undefined ? undefined : Number(attempts),
    error: text(headers[FAILURE_HEADERS.errorMessage]),
    failedAt: text(headers[FAILURE_HEADERS.failedAt]),
    deadLetterReason: text(headers['x-first-death-reason']),
  };
}

/**
 * Looks at up to `limit` parked messages without removing them: each is fetched and put back. The
 * broker may then hand them out in another order, which a parking queue does not mind.
 */
export async function peekParked(channel: ConfirmChannel, consumerName: string, limit = 20): Promise<ParkedMessage[]> {
  const queue = parkingQueueName(consumerName);
  const { messageCount } = await channel.checkQueue(queue);
  const fetched: GetMessage[] = [];
  try {
    while (fetched.length < Math.min(limit, messageCount)) {
      const message = await channel.get(queue, { noAck: false });
      if (!message) break;
      fetched.push(message);
    }
    return fetched.map(describe);
  } finally {
    for (const message of fetched) channel.nack(message, false, true);
  }
}

/**
 * Moves a consumer's parked messages back to its work queue with the attempt counter and error
 * headers removed, so each gets a full set of attempts again. Each copy is confirmed before its
 * original is acked: a crash midway duplicates at most one message, which the consumer deduplicates.
 * Only the messages parked when the replay starts are moved; one that fails again is parked again
 * and waits for the next replay.
 */
export async function replayParked(channel: ConfirmChannel, consumerName: string, options: { limit?: number } = {}): Promise<number> {
  const queue = parkingQueueName(consumerName);
  // The work queue has the consumer's name; checking it first turns a typo into an error, not a loss.
  await channel.checkQueue(consumerName);
  const { messageCount } = await channel.checkQueue(queue);
  const todo = Math.min(messageCount, options.limit ?? Number.MAX_SAFE_INTEGER);
  let moved = 0;
  while (moved < todo) {
    const message = await channel.get(queue, { noAck: false });
    if (!message) break;
    await sendCopy(channel, consumerName, message, {
      resetFailures: true,
      extraHeaders: { 'x-replayed-at': new Date().toISOString() },
    });
    channel.ack(message);
    moved++;
  }
  return moved;
}
