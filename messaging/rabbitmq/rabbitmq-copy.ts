import type { ConfirmChannel, Message, Options } from 'amqplib';
import { FAILURE_HEADERS, copyableHeaders } from '../dead-letter-headers';
import { EVENTS_EXCHANGE } from './rabbitmq-topology';
import { MessagingError } from '../errors';

/**
 * Publishes a copy of a received message straight to a queue (through the default exchange) and
 * waits for the broker's confirm. `mandatory` makes a missing queue an error rather than a silent
 * drop. Used to move messages between a consumer's work, retry and parking queues.
 *
 * Callers send one copy at a time per channel: a return is attributed to the copy in flight.
 */
export function sendCopy(
  channel: ConfirmChannel,
  queue: string,
  message: Message,
  options: { extraHeaders?: Record<string, string>; resetFailures?: boolean } = {},
): Promise<void> {
  const { properties, fields } = message;
  const headers: Record<string, unknown> = copyableHeaders(properties.headers, { resetFailures: options.resetFailures });
  // The first hop remembers where the event was routed, for replays and for people reading the DLQ.
  if (headers[FAILURE_HEADERS.originalRoutingKey] === undefined && fields.exchange === EVENTS_EXCHANGE) {
    headers[FAILURE_HEADERS.originalRoutingKey] = fields.routingKey;
    headers[FAILURE_HEADERS.originalExchange] = fields.exchange;
  }
  const publish: Options.Publish = {
    persistent: true,
    mandatory: true,
    contentType: properties.contentType as string | undefined,
    messageId: properties.messageId as string | undefined,
    type: properties.type as string | undefined,
    correlationId: properties.correlationId as string | undefined,
    timestamp: properties.timestamp as number | undefined,
    headers: { ...headers, ...options.extraHeaders },
  };
  return new Promise<void>((resolve, reject) => {
    let returned = false;
    const onReturn = (): void => {
      returned = true;
    };
    channel.on('return', onReturn);
    const settle = (err: unknown): void => {
      channel.off('return', onReturn);
      if (err) reject(err instanceof Error ? err : new MessagingError(`the broker nacked the copy to ${queue}`));
      else if (returned) reject(new MessagingError(`queue ${queue} does not exist: the copy was returned`));
      else resolve();
    };
    try {
      channel.sendToQueue(queue, message.content, publish, settle);
    } catch (err) {
      settle(err);
    }
  });
}
