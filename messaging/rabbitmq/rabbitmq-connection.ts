import amqp, { type RecoveringChannelModel } from 'amqplib';
import { config } from '../../config';
import type { Logger } from '../../infra/logger';

export interface RecoveringConnectionOptions {
  /** Shown in the management UI, to tell our processes apart. */
  connectionName: string;
  logger: Logger;
  /** The longest pause between reconnect attempts (default 5 s). */
  maxReconnectDelayMs?: number;
}

/**
 * A RabbitMQ connection that reconnects by itself, with backoff, forever (amqplib's recovery). It
 * resolves at once, even while the broker is down: callers ask it for channels, which wait for the
 * connection, so each caller bounds that wait itself. Channels do not survive a reconnect; their
 * owners open new ones (see the publisher and the consumer).
 */
export async function connectRecovering(options: RecoveringConnectionOptions): Promise<RecoveringChannelModel> {
  const { logger } = options;
  const connection = await amqp.connect(config().RABBITMQ_URL, {
    clientProperties: { connection_name: options.connectionName },
    recovery: { initialDelay: 200, maxDelay: options.maxReconnectDelayMs ?? 5000, waitForConnect: false },
  });
  connection.on('connect', () => logger.info('rabbitmq connected'));
  connection.on('disconnect', (err: Error) => logger.warn({ err: err.message }, 'rabbitmq connection lost; reconnecting'));
  connection.on('reconnect-scheduled', (info: { attempt: number; delay: number; error: Error }) =>
    logger.debug({ attempt: info.attempt, delayMs: info.delay, err: info.error.message }, 'rabbitmq reconnect scheduled'),
  );
  connection.on('reconnect-failed', (err: Error) => logger.error({ err: err.message }, 'rabbitmq recovery gave up'));
  // Without a listener an 'error' event would throw and take the process down; recovery handles it.
  connection.on('error', (err: Error) => logger.warn({ err: err.message }, 'rabbitmq connection error'));
  return connection;
}

