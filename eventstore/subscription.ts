import type { Client as PgClient } from 'pg';
import { NOTIFY_CHANNEL } from './notifier';
import type { PostgresEventStore } from './postgres-event-store';
import type { GlobalCheckpoint, StoredEvent } from './types';


export interface SubscriptionOptions {
  /** Deliver events after this checkpoint. The subscriber owns and stores its checkpoint. */
  from: GlobalCheckpoint;
  /** Only this category (stream type), e.g. 'Order'. */
  streamType?: string;
  batchSize?: number;
  /** The longest wait between polls when no notification arrives. */
  maxPollIntervalMs?: number;
  /** Handles one batch, in log order. The subscription moves on only when it resolves. */
  handle(events: StoredEvent[], checkpoint: GlobalCheckpoint): Promise<void>;
  /** Called when a batch fails; the same batch is retried after a back-off. */
  onError?(err: unknown): void;
}

export interface Subscription {
  /** Stops after the batch in flight; resolves when stopped. */
  stop(): Promise<void>;
  /** The checkpoint of the last handled batch. */
  readonly checkpoint: GlobalCheckpoint;
}

/**
 * Catches up from a checkpoint, then follows the log: batched polling, woken early by LISTEN/NOTIFY
 * (the store notifies after appends commit). Polling stays the source of truth, so a lost
 * notification costs latency, never events.
 */
export function subscribe(store: PostgresEventStore, listener: PgClient | undefined, options: SubscriptionOptions): Subscription {
  const batchSize = options.batchSize ?? 500;
  const maxInterval = options.maxPollIntervalMs ?? 1000;
  let checkpoint = options.from;
  let stopped = false;
  let wake: (() => void) | undefined;
  // A notification that arrives while a batch is in hand must not be lost: it means "poll again now".
  let notified = false;
  const stopController = new AbortController();

  const onNotification = (msg: { channel: string; payload?: string }): void => {
    if (msg.channel !== NOTIFY_CHANNEL) return;
    if (options.streamType !== undefined && msg.payload !== options.streamType) return;
    notified = true;
    wake?.();
  };
  listener?.on('notification', onNotification);

  const idle = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        stopController.signal.removeEventListener('abort', done);
        wake = undefined;
        resolve();
      }
      wake = done;
      stopController.signal.addEventListener('abort', done);
    });

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const { events, checkpoint: next } = await store.readAll({
          after: checkpoint,
          limit: batchSize,
          streamType: options.streamType,
        });
        if (events.length > 0) {
          await options.handle(events, next);
          checkpoint = next;
        }
        failures = 0;
        if (events.length < batchSize && !notified) await idle(maxInterval);
        notified = false;
      } catch (err) {
        failures++;
        options.onError?.(err);
        await idle(Math.min(100 * 2 ** failures, 5000));
      }
    }
  })();

  return {
    get checkpoint() {
      return checkpoint;
    },
    async stop() {
      stopped = true;
      stopController.abort();
      await loop;
      listener?.off('notification', onNotification);
    },
  };
}

/** Opens LISTEN on the store's notification channel. */
export async function listenForAppends(client: PgClient): Promise<PgClient> {
  await client.connect();
  await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
  return client;
}
