/** The errors messaging raises on purpose; anything else is a bug or a raw driver failure. */

export type Broker = 'rabbitmq' | 'kafka';

export class MessagingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No connection or channel to the broker within the time allowed: the broker is down or unreachable. */
export class BrokerUnavailableError extends MessagingError {
  constructor(
    readonly broker: Broker,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${broker} is unavailable: ${detail}`, options);
  }
}

/** The broker took the batch but did not confirm all of it (nack, channel closed, timeout, failed send). */
export class PublishFailedError extends MessagingError {
  constructor(
    readonly broker: Broker,
    readonly eventIds: readonly string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${broker} did not confirm ${eventIds.length} message(s): ${detail}`, options);
  }
}

/**
 * The broker returned messages published with `mandatory`: not even the alternate exchange took them,
 * so they reached no queue.
 */
export class UnroutableMessageError extends MessagingError {
  constructor(
    readonly eventIds: readonly string[],
    readonly replyText: string,
  ) {
    super(`RabbitMQ returned ${eventIds.length} unroutable message(s) (${replyText}): ${eventIds.join(', ')}`);
  }
}

/** A message whose body is not an event envelope: it can never be handled, so it goes straight to the DLQ. */
export class MalformedMessageError extends MessagingError {}
