import type { ConfirmChannel, ConsumeMessage, RecoveringChannelModel } from 'amqplib';
import type { Knex } from 'knex';
import { createLogger, type Logger } from '../../infra/logger';
import { backoffDelay, sleep } from '../async';
import { FAILURE_HEADERS, errorHeaders } from '../dead-letter-headers';
import { parseEnvelope } from '../envelope';
import { MalformedMessageError } from '../errors';
import type { ConsumerObserver, EventHandler } from '../handler';
import { processOnce } from '../idempotent-consumer';
import { connectRecovering } from './rabbitmq-connection';
import { sendCopy } from './rabbitmq-copy';
import {
  consumerQueues,
  declareConsumerQueue,
  type ConsumerQueueOptions,
  type ConsumerQueues,
} from './rabbitmq-topology';
import { nextStep } from '../retry-policy';

/*
 * Consumes a consumer's work queue (see rabbitmq-topology.ts) and runs the handler once per event:
 *   - success: the handler's transaction (with the dedup claim) commits, then the message is acked;
 *   - failure: a copy goes, confirmed, to the retry queue for this attempt (or to `<consumer>.dlq` with
 *     error headers after maxAttempts), then the original is acked. Waiting happens in a durable TTL
 *     queue, not in this process, so the messages behind a failing one go on and a crash loses nothing.
 *
 * Why a confirmed copy and not a plain nack: dead-lettering on nack always goes to the one DLX of the
 * work queue, so it cannot pick a retry queue by attempt, and it cannot add error headers. The broker's
 * own dead-lettering is still used twice: the retry queues' TTL expiry sends messages back to the work
 * queue, and the quorum queue's x-delivery-limit parks a message whose deliveries keep killing the
 * consumer before it can ack (those never reach the handler's catch).
 *
 * Attempts are counted in our own header (x-failed-attempts), carried from copy to copy: x-death only
 * records one copy's trips through dead-lettering, and x-delivery-count only one copy's redeliveries.
 * Messages are handled one at a time, in delivery order.
 */

export interface RabbitMqConsumerOptions extends ConsumerQueueOptions {
  consumerName: string;
  /** Topic patterns on the `events` exchange, e.g. `Order.#` or `Order.OrderSubmitted`. */
  bindingKeys: readonly string[];
  db: Knex;
  handler: EventHandler;
  /** Messages the broker may hand out before they are acked (default 20). */
  prefetch?: number;
  logger?: Logger;
  observer?: ConsumerObserver;
}

export class RabbitMqConsumer {
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private channel: ConfirmChannel | undefined;
  private consumerTag: string | undefined;
  private readonly closedChannels = new WeakSet<ConfirmChannel>();
  private inFlight: Promise<void> = Promise.resolve();
  private supervisor: Promise<void> = Promise.resolve();
  private firstSubscription!: { resolve: () => void; reject: (err: Error) => void };
  readonly queues: ConsumerQueues;

  private constructor(
    private readonly connection: RecoveringChannelModel,
    private readonly options: RabbitMqConsumerOptions,
    logger: Logger,
  ) {
    this.logger = logger;
    // Names and policy only; the broker-side declaration happens on every (re)subscription.
    this.queues = consumerQueues(options.consumerName, options);
  }

  /** Declares the consumer's queues and starts consuming; resolves once the first subscription is active. */
  static async start(options: RabbitMqConsumerOptions): Promise<RabbitMqConsumer> {
    const logger = options.logger ?? createLogger(`consumer-${options.consumerName}`);
    const connection = await connectRecovering({ connectionName: `consumer:${options.consumerName}`, logger });
    const consumer = new RabbitMqConsumer(connection, options, logger);
    const subscribed = new Promise<void>((resolve, reject) => {
      consumer.firstSubscription = { resolve, reject };
    });
    consumer.supervisor = consumer.supervise();
    try {
      await subscribed;
    } catch (err) {
      await consumer.stop();
      throw err;
    }
    return consumer;
  }

  /** Whether a channel is consuming the work queue now (false while the broker is unreachable). */
  isConsuming(): boolean {
    return this.consumerTag !== undefined && !this.stopping.signal.aborted;
  }

  /** Stops consuming, lets the messages in hand finish (and be acked), then closes. */
  async stop(): Promise<void> {
    this.stopping.abort();
    const channel = this.channel;
    if (channel && this.consumerTag) await channel.cancel(this.consumerTag).catch(() => undefined);
    await this.inFlight;
    await channel?.close().catch(() => undefined);
    // Closing the connection also ends a supervisor still waiting for one (broker down).
    await this.connection.close();
    await this.supervisor;
    this.firstSubscription.reject(new Error('Consumer stopped'));
  }

  /** Keeps one consuming channel open: a new one after each reconnect or channel error. */
  private async supervise(): Promise<void> {
    let failures = 0;
    let subscribedOnce = false;
    while (!this.stopping.signal.aborted) {
      try {
        const channel = await this.connection.createConfirmChannel();
        const closed = new Promise<void>((resolve) =>
          channel.once('close', () => {
            this.closedChannels.add(channel);
            resolve();
          }),
        );
        channel.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'rabbitmq consumer channel error'));
        await this.subscribe(channel);
        failures = 0;
        subscribedOnce = true;
        this.firstSubscription.resolve();
        await closed;
        this.channel = undefined;
        this.consumerTag = undefined;
        if (!this.stopping.signal.aborted) this.logger.warn('rabbitmq consumer channel closed; resubscribing');
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        // A refused declaration (e.g. the queue exists with other arguments) will not fix itself:
        // fail the start. Once running, keep trying, since someone may be repairing the broker.
        if (!subscribedOnce && isPermanentChannelError(err)) {
          this.firstSubscription.reject(err as Error);
          return;
        }
        failures++;
        this.logger.warn({ err: (err as Error).message, failures }, 'rabbitmq consumer could not subscribe; retrying');
      }
      if (!this.stopping.signal.aborted) await sleep(backoffDelay(failures + 1), this.stopping.signal);
    }
  }

  private async subscribe(channel: ConfirmChannel): Promise<void> {
    const { consumerName, bindingKeys, retryDelaysMs, maxAttempts, deliveryLimit } = this.options;
    await declareConsumerQueue(channel, consumerName, bindingKeys, { retryDelaysMs, maxAttempts, deliveryLimit });
    await channel.prefetch(this.options.prefetch ?? 20);
    this.channel = channel;
    const { consumerTag } = await channel.consume(this.queues.workQueue, (message) => {
      // null: the broker cancelled the consumer (queue deleted); the channel supervisor takes over.
      if (!message) return;
      this.inFlight = this.inFlight
        .then(() => this.handle(channel, message))
        .catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'unexpected error handling a message'));
    });
    this.consumerTag = consumerTag;
    this.logger.info({ queue: this.queues.workQueue, bindingKeys }, 'rabbitmq consumer subscribed');
  }

  private async handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    // Deliveries of a channel that closed are back in the queue already: handling them would be wasted.
    if (this.closedChannels.has(channel)) return;
    const failedBefore = Number(message.properties.headers?.[FAILURE_HEADERS.failedAttempts] ?? 0) || 0;
    const attempt = failedBefore + 1;
    try {
      const envelope = parseEnvelope(message.content);
      const outcome = await processOnce(this.options.db, this.options.consumerName, envelope.eventId, (trx) =>
        this.options.handler(envelope, { trx, attempt, broker: 'rabbitmq' }),
      );
      if (!outcome.applied) this.logger.debug({ eventId: envelope.eventId }, 'duplicate delivery skipped');
      this.options.observer?.delivered?.(outcome.applied ? 'processed' : 'duplicate');
    } catch (err) {
      await this.failed(channel, message, err, attempt);
      return;
    }
    try {
      channel.ack(message);
    } catch (err) {
      // The channel closed after the transaction committed: the redelivery will be skipped as a duplicate.
      this.logger.debug({ err: (err as Error).message }, 'ack lost with its channel');
    }
  }

  private async failed(channel: ConfirmChannel, message: ConsumeMessage, err: unknown, attempt: number): Promise<void> {
    // A body that is not an envelope never will be: no point in retrying it.
    const malformed = err instanceof MalformedMessageError;
    const step = malformed ? ({ action: 'park' } as const) : nextStep(this.queues.policy, attempt);
    const target = step.action === 'retry' ? this.queues.retryQueues.get(step.delayMs) : this.queues.parkingQueue;
    const log = { messageId: message.properties.messageId as unknown, attempt, err: (err as Error)?.message, to: target };
    if (step.action === 'park') this.logger.error(log, 'message parked in the DLQ');
    else this.logger.warn(log, 'handler failed; message scheduled for retry');
    this.options.observer?.failed?.(err, step.action === 'park');
    try {
      if (!target) throw new Error(`no retry queue for ${JSON.stringify(step)}`);
      await sendCopy(channel, target, message, {
        extraHeaders: { ...errorHeaders(err, attempt), [FAILURE_HEADERS.consumer]: this.options.consumerName },
      });
      channel.ack(message);
    } catch (moveErr) {
      // The copy was not confirmed: keep the original. Requeued, it is tried again (and counts towards
      // the delivery limit); if the channel is gone, the broker requeues it anyway.
      this.logger.warn({ err: (moveErr as Error).message }, 'could not move a failed message; requeueing it');
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel closed: the broker has requeued the message already.
      }
    }
  }
}

/** ACCESS_REFUSED, NOT_FOUND, PRECONDITION_FAILED: the broker refused a declaration. */
function isPermanentChannelError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 403 || code === 404 || code === 406;
}
