import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { ORDER_STREAM_TYPE } from '../../domain';
import { loadCheckpoint, saveCheckpoint, subscribe, type PostgresEventStore, type StoredEvent, type Subscription } from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';
import { loadWatermark } from './watermarks';
import type { ProjectionName } from '../read-models/names';
import type { ApplyResult, ProjectionRunner } from './runner';
import { DEFAULT_SCHEMA } from './tables';

export interface SubscriptionProjectorOptions {
  db: Knex;
  store: PostgresEventStore;
  runner: ProjectionRunner;
  /** A LISTENing connection (listenForAppends) to wake up on appends; without it the loop only polls. */
  listener?: PgClient;
  /** Must match the runner's schema; it names the subscription's checkpoint. */
  schema?: string;
  batchSize?: number;
  maxPollIntervalMs?: number;
  logger?: Logger;
  /** Called after each batch commits (metrics, benchmarks). */
  onApplied?(events: readonly StoredEvent[], result: ApplyResult): void;
}

/**
 * Feeds a projection straight from the event store's Order category: the runner applies each batch and
 * stores the subscription's checkpoint in the same transaction. It stands in for the broker consumers
 * until they are wired, and keeps working beside them: the runner's per-order versions make whatever
 * both deliver count once.
 */
export async function startSubscriptionProjector(name: ProjectionName, options: SubscriptionProjectorOptions): Promise<Subscription> {
  const logger = options.logger ?? createLogger('projections');
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const subscriptionId = `projection:${schema}.${name}`;
  const stored = await loadCheckpoint(options.db, subscriptionId);
  // A first start begins at the projection's watermark (set by a rebuild): everything before it is applied.
  const from = stored.transactionId === 0n && stored.globalPosition === 0n ? await loadWatermark(options.db, schema, name) : stored;
  return subscribe(options.store, options.listener, {
    from,
    streamType: ORDER_STREAM_TYPE,
    batchSize: options.batchSize ?? 1000,
    maxPollIntervalMs: options.maxPollIntervalMs,
    async handle(events, checkpoint) {
      const result = await options.runner.applyEvents(name, events, {
        inTransaction: (trx) => saveCheckpoint(trx, subscriptionId, checkpoint),
      });
      options.onApplied?.(events, result);
    },
    onError: (err) => logger.error({ err, projection: name }, 'projection batch failed; retrying'),
  });
}
