import type { Knex } from 'knex';
import type { Logger } from './logger';

/** Rows a prune deletes per statement: short transactions, no long locks, whatever the backlog. */
export const PRUNE_BATCH_SIZE = 1000;
/** Batches per run at most: a large backlog is worked off over several runs instead of in one burst. */
export const PRUNE_MAX_BATCHES_PER_RUN = 20;

const HOUR_MS = 3_600_000;

export const hoursToMs = (hours: number): number => hours * HOUR_MS;

export interface PruneBatch {
  /** The table the rows are deleted from. */
  table: string;
  /** The timestamp column the retention is measured on. */
  timestampColumn: string;
  /** Rows younger than this are kept. */
  olderThanMs: number;
  batchSize?: number;
  /** Further conditions on the rows, e.g. { consumer_name: 'order-projector' }. */
  where?: Record<string, string>;
}

/**
 * Deletes at most one batch of rows older than the retention; returns how many. Rows locked by someone
 * else (another process pruning the same table) are skipped, not waited for.
 */
export async function pruneBatch(db: Knex, batch: PruneBatch): Promise<number> {
  const where = Object.entries(batch.where ?? {});
  const conditions = [`?? < now() - (? || ' milliseconds')::interval`, ...where.map(() => '?? = ?')].join(' AND ');
  const bindings: Knex.RawBinding[] = [
    batch.table,
    batch.table,
    batch.timestampColumn,
    Math.floor(batch.olderThanMs),
    ...where.flatMap(([column, value]) => [column, value]),
    batch.batchSize ?? PRUNE_BATCH_SIZE,
  ];
  const { rowCount } = await db.raw<{ rowCount: number | null }>(
    `DELETE FROM ?? WHERE ctid = ANY (ARRAY(SELECT ctid FROM ?? WHERE ${conditions} LIMIT ? FOR UPDATE SKIP LOCKED))`,
    bindings,
  );
  return rowCount ?? 0;
}

export interface PeriodicPruning {
  /** Runs the prune once now (batches until one is not full, at most PRUNE_MAX_BATCHES_PER_RUN); returns rows deleted. */
  runOnce(): Promise<number>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export interface PeriodicPruningOptions {
  /** What is pruned, for the log, e.g. 'processed_messages'. */
  name: string;
  /** Deletes one batch; returns how many rows it deleted. */
  prune: (batchSize: number) => Promise<number>;
  intervalMs: number;
  logger: Logger;
  batchSize?: number;
  maxBatchesPerRun?: number;
}

/**
 * Runs a prune every intervalMs (the first run one interval after start): a failure is logged and the
 * next run tries again, so a database outage never stops the process. The timer keeps no process alive.
 */
export function startPeriodicPruning(options: PeriodicPruningOptions): PeriodicPruning {
  const batchSize = options.batchSize ?? PRUNE_BATCH_SIZE;
  const maxBatches = options.maxBatchesPerRun ?? PRUNE_MAX_BATCHES_PER_RUN;
  let running: Promise<number> | undefined;
  let stopped = false;

  const run = async (): Promise<number> => {
    let deleted = 0;
    for (let batch = 0; batch < maxBatches && !stopped; batch++) {
      const n = await options.prune(batchSize);
      deleted += n;
      if (n < batchSize) break;
    }
    if (deleted > 0) options.logger.info({ table: options.name, deleted }, 'pruned rows past their retention');
    else options.logger.debug({ table: options.name }, 'nothing to prune');
    return deleted;
  };
  const runOnce = (): Promise<number> => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => {
    runOnce().catch((err: unknown) => options.logger.warn({ table: options.name, err: (err as Error).message }, 'pruning failed; retrying at the next run'));
  }, options.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
