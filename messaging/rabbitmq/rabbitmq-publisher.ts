import type { ConfirmChannel, Message, Options, RecoveringChannelModel } from 'amqplib';
import type { StoredEvent } from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';
import { withTimeout } from '../async';
import { ENVELOPE_CONTENT_TYPE, encodeEvent, headersPublishedBy, type EncodedEvent } from '../envelope';
import { BrokerUnavailableError, MessagingError, PublishFailedError, UnroutableMessageError } from '../errors';
import type { EventPublisher } from '../publisher';
import { connectRecovering } from './rabbitmq-connection';
import { EVENTS_EXCHANGE, declareEventTopology } from './rabbitmq-topology';

export interface RabbitMqPublisherOptions {
  connectionName?: string;
  logger?: Logger;
  /** How long a publish waits for a connection before failing with BrokerUnavailableError (default 5 s). */
  connectTimeoutMs?: number;
  /** How long a batch may wait for the broker's confirms (default 30 s). */
  confirmTimeoutMs?: number;
  /** Batches the relay may publish before the previous ones are confirmed (default 2). */
  maxInFlightBatches?: number;
  /** Put in each message's `published-by` header: which path sent the copy (duplicates can be told apart). */
  publishedBy?: string;
}

/**
 * Publishes events to the `events` topic exchange on a confirm channel: persistent, `mandatory`, one
 * message per event with the event id as message id. A batch resolves only when the broker confirmed
 * every message and returned none. The connection recovers by itself; a channel that closed is
 * replaced on the next publish.
 */
export class RabbitMqPublisher implements EventPublisher {
  readonly broker = 'rabbitmq' as const;
  /**
   * A channel delivers in publish order and, when it fails, loses a suffix of what was sent, so a
   * later batch is never confirmed ahead of an earlier one that is lost: pipelining batches is safe.
   */
  readonly maxInFlightBatches: number;
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private closed = false;

  private constructor(
    private readonly connection: RecoveringChannelModel,
    private readonly logger: Logger,
    private readonly options: RabbitMqPublisherOptions,
  ) {
    this.maxInFlightBatches = options.maxInFlightBatches ?? 2;
  }

  static async connect(options: RabbitMqPublisherOptions = {}): Promise<RabbitMqPublisher> {
    const logger = options.logger ?? createLogger('rabbitmq-publisher');
    const connection = await connectRecovering({ connectionName: options.connectionName ?? 'event-publisher', logger });
    return new RabbitMqPublisher(connection, logger, options);
  }

  async publish(events: readonly StoredEvent[]): Promise<void> {
    if (this.closed) throw new MessagingError('RabbitMQ publisher is closed');
    if (events.length === 0) return;
    const encoded = events.map(encodeEvent);
    const eventIds = encoded.map((e) => e.envelope.eventId);
    const channel = await this.acquireChannel();

    const inBatch = new Set(eventIds);
    const returned: string[] = [];
    let replyText = '';
    const onReturn = (message: Message): void => {
      const id: unknown = message.properties.messageId;
      if (typeof id !== 'string' || !inBatch.has(id)) return;
      returned.push(id);
      replyText = String((message.fields as { replyText?: unknown }).replyText ?? 'NO_ROUTE');
    };
    channel.on('return', onReturn);
    try {
      for (const event of encoded) {
        if (!channel.publish(EVENTS_EXCHANGE, event.routingKey, event.body, publishOptions(event, this.options.publishedBy))) await drained(channel);
      }
      const confirmTimeoutMs = this.options.confirmTimeoutMs ?? 30_000;
      await withTimeout(channel.waitForConfirms(), confirmTimeoutMs, () => new Error(`no confirms within ${confirmTimeoutMs} ms`));
    } catch (err) {
      // A channel that failed or hangs may hold confirms that never come: start over on a fresh one.
      this.discard(channel);
      throw new PublishFailedError('rabbitmq', eventIds, (err as Error).message, { cause: err });
    } finally {
      channel.off('return', onReturn);
    }
    // The broker sends basic.return before the confirm of the same message, so all returns are in.
    if (returned.length > 0) throw new UnroutableMessageError(returned, replyText);
  }

  async close(): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
    await this.connection.close();
  }

  private acquireChannel(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    // One channel is opened at a time, shared by concurrent publishes. When a wait times out, the
    // opening goes on and the next publish finds its channel ready.
    this.opening ??= this.openChannel().finally(() => {
      this.opening = undefined;
    });
    const timeoutMs = this.options.connectTimeoutMs ?? 5000;
    return withTimeout(this.opening, timeoutMs, () => new BrokerUnavailableError('rabbitmq', `no channel within ${timeoutMs} ms`));
  }

  private async openChannel(): Promise<ConfirmChannel> {
    const channel = await this.connection.createConfirmChannel();
    // Each batch in flight listens for returns.
    channel.setMaxListeners(0);
    channel.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'rabbitmq publish channel error'));
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    try {
      // A broker that lost its definitions gets them back before anything is published to it.
      await declareEventTopology(channel);
    } catch (err) {
      await channel.close().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await channel.close().catch(() => undefined);
      throw new MessagingError('RabbitMQ publisher is closed');
    }
    this.channel = channel;
    return channel;
  }

  private discard(channel: ConfirmChannel): void {
    if (this.channel === channel) this.channel = undefined;
    channel.close().catch(() => undefined);
  }
}

/** The message properties an event is published with (also by tests that publish to a broker of their own). */
export function publishOptions(event: EncodedEvent, publishedBy?: string): Options.Publish {
  const { envelope } = event;
  const correlationId = envelope.metadata.correlationId;
  return {
    persistent: true,
    mandatory: true,
    contentType: ENVELOPE_CONTENT_TYPE,
    messageId: envelope.eventId,
    type: envelope.type,
    correlationId: typeof correlationId === 'string' ? correlationId : undefined,
    timestamp: Math.floor(Date.parse(envelope.recordedAt) / 1000),
    headers: headersPublishedBy(event.headers, publishedBy),
  };
}

/** Resolves when the channel's write buffer drained, or when it closed (the confirm wait then fails). */
function drained(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.on('drain', done);
    channel.on('close', done);
  });
}
