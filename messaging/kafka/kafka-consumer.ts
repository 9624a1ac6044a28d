import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import { createIdempotentProducer, createKafka } from '../../infra/kafka';
import { createLogger, type Logger } from '../../infra/logger';
import { backoffDelay, sleep } from '../async';
import { FAILURE_HEADERS, errorHeaders } from '../dead-letter-headers';
import { parseEnvelope } from '../envelope';
import { MalformedMessageError } from '../errors';
import type { ConsumerObserver, EventHandler } from '../handler';
import { processOnce } from '../idempotent-consumer';
import { kafkaTopics } from './kafka-topics';
import { kafkaLogCreator } from './kafka-logging';
import { nextStep, retryPolicy, type RetryPolicy } from '../retry-policy';

/*
 * A consumer group that runs the handler once per event (see idempotent-consumer.ts) and commits a
 * message's offset only after the handler's transaction committed. A failing message is retried in
 * place a bounded number of times (the partition waits: Kafka keeps order per partition, and skipping
 * ahead would break it), then copied to the DLQ topic with the error and its origin in headers, and
 * the group moves on. Auto-commit is off; offsets are committed only up to handled messages (about
 * once a second, and whenever a batch ends or waits), so a crash redelivers at most a second's worth
 * of messages, which deduplication then skips.
 *
 * Messages re-produced by the DLQ tool for one group carry x-replay-for; other groups skip them.
 */

export interface KafkaConsumerOptions {
  groupId: string;
  db: Knex;
  handler: EventHandler;
  topic?: string;
  dlqTopic?: string;
  /** Pauses between in-place attempts (default 200 ms, 1 s, 5 s). */
  retryDelaysMs?: readonly number[];
  maxAttempts?: number;
  /** A new group starts at the beginning of the topic (default) or at its end. */
  fromBeginning?: boolean;
  /**
   * How long the group waits for a silent member before rebalancing (default 10 s, Kafka's is 30 s).
   * After a broker restart the group waits this long for the members it lost, so shorter means a
   * faster resumption; a handler must finish (or the consumer heartbeat) well within it.
   */
  sessionTimeoutMs?: number;
  kafka?: Kafka;
  logger?: Logger;
  observer?: ConsumerObserver;
}

export const DEFAULT_KAFKA_RETRY_DELAYS_MS: readonly number[] = [200, 1000, 5000];

// Heartbeat at least this often while waiting between attempts, well inside the session timeout.
const HEARTBEAT_EVERY_MS = 1000;
// The most handled-but-uncommitted time: what a crash may make the group see again (deduplicated).
const COMMIT_INTERVAL_MS = 1000;

export class KafkaEventConsumer {
  private readonly logger: Logger;
  private readonly kafka: Kafka;
  private readonly policy: RetryPolicy;
  private readonly stopping = new AbortController();
  private consumer: Consumer | undefined;
  private readonly dlqProducer: Producer;
  private restarts = 0;
  private inGroup = false;

  private constructor(private readonly options: KafkaConsumerOptions) {
    this.logger = options.logger ?? createLogger(`kafka-consumer-${options.groupId}`);
    this.kafka = options.kafka ?? createKafka(`consumer-${options.groupId}`, { logCreator: kafkaLogCreator(this.logger) });
    this.policy = retryPolicy({ retryDelaysMs: options.retryDelaysMs ?? DEFAULT_KAFKA_RETRY_DELAYS_MS, maxAttempts: options.maxAttempts });
    this.dlqProducer = createIdempotentProducer(this.kafka);
  }

  /** Starts consuming; resolves once the consumer runs (its partitions are assigned shortly after). */
  static async start(options: KafkaConsumerOptions): Promise<KafkaEventConsumer> {
    const consumer = new KafkaEventConsumer(options);
    await consumer.dlqProducer.connect();
    await consumer.run();
    return consumer;
  }

  get topic(): string {
    return this.options.topic ?? kafkaTopics().orderEvents;
  }

  get dlqTopic(): string {
    return this.options.dlqTopic ?? kafkaTopics().orderEventsDlq;
  }

  /** Whether the consumer is a member of its group now (false while crashed, rebalanced out or disconnected). */
  isConsuming(): boolean {
    return this.inGroup && !this.stopping.signal.aborted;
  }

  /** Finishes the message in hand (no further in-place retries), leaves the group and disconnects. */
  async stop(): Promise<void> {
    this.stopping.abort();
    // Stopped (the batch in hand finished, its heartbeat sent) before disconnecting: a heartbeat
    // that runs after the disconnect reconnects to the coordinator and leaks that connection.
    await this.consumer?.stop().catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.dlqProducer.disconnect().catch(() => undefined);
  }

  private async run(): Promise<void> {
    // A short fetch wait keeps stop() quick; an idle consumer then polls the broker about once a second.
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      maxWaitTimeInMs: 1000,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: HEARTBEAT_EVERY_MS,
    });
    this.consumer = consumer;
    // Only the current consumer's events count: a replaced one may report its disconnect late.
    const member = (joined: boolean) => () => {
      if (this.consumer === consumer) this.inGroup = joined;
    };
    consumer.on(consumer.events.GROUP_JOIN, member(true));
    consumer.on(consumer.events.STOP, member(false));
    consumer.on(consumer.events.DISCONNECT, member(false));
    // kafkajs restarts by itself after retriable failures; after any other crash we start a new one.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      member(false)();
      if (payload.restart || this.stopping.signal.aborted) return;
      this.logger.error({ err: payload.error.message }, 'kafka consumer crashed; starting a new one');
      void this.restart();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: this.options.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.eachBatch(consumer, payload),
    });
  }

  private async restart(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      this.restarts++;
      await sleep(backoffDelay(this.restarts, 500, 10_000), this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      try {
        await this.consumer?.disconnect().catch(() => undefined);
        await this.run();
        this.restarts = 0;
        return;
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'kafka consumer restart failed; retrying');
      }
    }
  }

  private async eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { topic, partition } = batch;
    // Offsets are committed once a second and when the batch ends or pauses, never ahead of the
    // handled messages: a commit per message would cost a broker round trip each.
    let pending: string | undefined;
    let committedAt = Date.now();
    const commit = async (): Promise<void> => {
      if (pending === undefined) return;
      const offset = pending;
      pending = undefined;
      committedAt = Date.now();
      await consumer.commitOffsets([{ topic, partition, offset }]);
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale() || this.stopping.signal.aborted) break;
        const done = await this.handleMessage(message, topic, partition, heartbeat, commit);
        if (!done) break;
        resolveOffset(message.offset);
        pending = (BigInt(message.offset) + 1n).toString();
        if (Date.now() - committedAt >= COMMIT_INTERVAL_MS) await commit();
        await heartbeat();
      }
    } finally {
      // After a rebalance the commit may be refused; the new owner then redelivers, and dedup skips.
      await commit().catch((err: unknown) => this.logger.warn({ err: (err as Error).message, topic, partition }, 'offset commit failed'));
    }
  }

  /** True when the message is finished with (handled, skipped or parked); false when stopping mid-retry. */
  private async handleMessage(
    message: KafkaMessage,
    topic: string,
    partition: number,
    heartbeat: () => Promise<void>,
    commitProgress: () => Promise<void>,
  ): Promise<boolean> {
    const replayFor = headerText(message.headers, FAILURE_HEADERS.replayFor);
    if (replayFor !== undefined && replayFor !== this.options.groupId) return true;

    for (let attempt = 1; ; attempt++) {
      try {
        const envelope = parseEnvelope(message.value);
        const outcome = await processOnce(this.options.db, this.options.groupId, envelope.eventId, (trx) =>
          this.options.handler(envelope, { trx, attempt, broker: 'kafka' }),
        );
        if (!outcome.applied) this.logger.debug({ eventId: envelope.eventId }, 'duplicate delivery skipped');
        this.options.observer?.delivered?.(outcome.applied ? 'processed' : 'duplicate');
        return true;
      } catch (err) {
        const step = err instanceof MalformedMessageError ? ({ action: 'park' } as const) : nextStep(this.policy, attempt);
        const log = { topic, partition, offset: message.offset, attempt, err: (err as Error).message };
        this.options.observer?.failed?.(err, step.action === 'park');
        if (step.action === 'park') {
          await this.park(message, topic, partition, err, attempt);
          this.logger.error(log, 'message parked in the DLQ topic');
          return true;
        }
        this.logger.warn({ ...log, retryInMs: step.delayMs }, 'handler failed; retrying in place');
        await commitProgress();
        if (!(await this.pause(step.delayMs, heartbeat))) return false;
      }
    }
  }

  /** Waits between attempts, heartbeating; false when the consumer is stopping. */
  private async pause(ms: number, heartbeat: () => Promise<void>): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sleep(Math.min(HEARTBEAT_EVERY_MS, until - Date.now()), this.stopping.signal);
      if (this.stopping.signal.aborted) return false;
      await heartbeat();
    }
    return true;
  }

  private async park(message: KafkaMessage, topic: string, partition: number, err: unknown, attempts: number): Promise<void> {
    const headers: IHeaders = {
      ...(message.headers ?? {}),
      ...errorHeaders(err, attempts),
      [FAILURE_HEADERS.originalTopic]: topic,
      [FAILURE_HEADERS.originalPartition]: String(partition),
      [FAILURE_HEADERS.originalOffset]: message.offset,
      [FAILURE_HEADERS.consumerGroup]: this.options.groupId,
    };
    // If this fails, the offset is not committed and the batch is retried: nothing is skipped unparked.
    await this.dlqProducer.send({ topic: this.dlqTopic, acks: -1, messages: [{ key: message.key, value: message.value, headers }] });
  }
}

export function headerText(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  if (value === undefined) return undefined;
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}
