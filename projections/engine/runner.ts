import type { Knex } from 'knex';
import type { PostgresEventStore } from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';
import { applyBatch, type ApplyStats } from './apply';
import { eventsByOrder } from './fold';
import { holdSwapLockShared } from './locks';
import type { ProjectionName } from '../read-models/names';
import { PROJECTIONS } from '../read-models/catalog';
import { liveTables, type TableSet } from './tables';
import type { DeliveredEvent } from './types';

export interface ProjectionRunnerOptions {
  db: Knex;
  /** Where events a delivery skipped are read from. */
  store: PostgresEventStore;
  /** The schema of the read models (default public). */
  schema?: string;
  logger?: Logger;
  /** Attempts of a batch that hits a deadlock or a serialization failure (default 5). */
  maxAttempts?: number;
}

export interface ApplyOptions {
  /**
   * Runs inside the batch's transaction after the rows are written: whatever it writes commits with
   * them or not at all (e.g. a subscription's checkpoint). Throwing rolls the whole batch back.
   */
  inTransaction?(trx: Knex.Transaction): Promise<void>;
}

export interface ApplyResult extends ApplyStats {
  /** Delivered events of streams that are not orders (skipped). */
  ignored: number;
}

const RETRYABLE = new Set(['40P01', '40001']);

function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && RETRYABLE.has(String((err as { code: unknown }).code));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Applies delivered batches of Order events to a projection's read model: the interface the broker
 * consumers call (RabbitMQ: order_view, customer_orders; Kafka: daily_sales, product_metrics). A batch
 * may hold any orders, in any order, with repeats and holes: per order, what is applied already is
 * skipped, what is missing is read from the event store, and the rest is applied in version order. Calls
 * are safe to run concurrently, for the same orders or others. When a call throws nothing was applied:
 * acknowledge a delivery only after its call resolves.
 */
export class ProjectionRunner {
  private readonly tables: TableSet;
  private readonly logger: Logger;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.tables = liveTables(options.schema);
    this.logger = options.logger ?? createLogger('projections');
  }

  /** Applies a batch in a transaction of its own, retried on deadlocks. */
  async applyEvents(name: ProjectionName, events: readonly DeliveredEvent[], options: ApplyOptions = {}): Promise<ApplyResult> {
    if (options.inTransaction === undefined && eventsByOrder(events).byOrder.size === 0) {
      return { orders: 0, applied: 0, duplicates: 0, fetched: 0, ignored: events.length };
    }
    const maxAttempts = this.options.maxAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.db.transaction(async (trx) => {
          const result = await this.applyInTransaction(trx, name, events);
          await options.inTransaction?.(trx);
          return result;
        });
      } catch (err) {
        if (!isRetryable(err) || attempt >= maxAttempts) throw err;
        this.logger.warn({ projection: name, attempt, err }, 'batch hit a lock conflict; retrying');
        await sleep(Math.random() * 20 * attempt);
      }
    }
  }

  /**
   * Applies a batch inside the caller's transaction (e.g. a consumer's, which also records the message
   * as processed), so both commit together. A deadlock aborts the caller's transaction: retry it whole.
   * A transaction that applies several projections should apply them in name order, the order in which
   * a rebuild takes their swap locks.
   */
  async applyInTransaction(trx: Knex.Transaction, name: ProjectionName, events: readonly DeliveredEvent[]): Promise<ApplyResult> {
    const projection = PROJECTIONS[name];
    const { byOrder, ignored } = eventsByOrder(events);
    if (byOrder.size === 0) return { orders: 0, applied: 0, duplicates: 0, fetched: 0, ignored };
    await holdSwapLockShared(trx, this.tables.schema, name);
    const { stats } = await applyBatch({
      db: trx,
      store: this.options.store,
      projection,
      tables: this.tables,
      byOrder,
      loadProgress: (orderIds) => projection.load(trx, this.tables, orderIds, { lock: true }),
    });
    this.logger.debug({ projection: name, ...stats, ignored }, 'batch applied');
    return { ...stats, ignored };
  }
}
