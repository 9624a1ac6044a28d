import type { Knex } from 'knex';
import type { ClientBase } from 'pg';
import type { GlobalCheckpoint, PostgresEventStore } from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';
import { releaseRebuildLock, tryRebuildLock } from './locks';
import type { ProjectionName } from '../read-models/names';
import { RebuildBuilder } from './rebuild-builder';
import { analyzeTables, createRebuildTables, dropRebuildTables, dropUnfinishedRebuilds } from './rebuild-tables';
import { PROJECTIONS } from '../read-models/catalog';
import { DEFAULT_SCHEMA, rebuildTables } from './tables';

export interface RebuildDependencies {
  db: Knex;
  store: PostgresEventStore;
  logger?: Logger;
}

export interface RebuildOptions {
  schema?: string;
  /** Events read per batch (default 5,000). */
  batchSize?: number;
  /** Write to the new tables every this many events (default 50,000) ... */
  flushEvents?: number;
  /** ... or once this many orders wait to be written, then all of them (default 50,000). */
  flushOrders?: number;
  /** Written orders whose state stays in memory (default 100,000); others are read back. */
  maxCachedOrders?: number;
  /** How long the swap may wait for a lock before it gives up and tries again (default 5 s). */
  lockTimeoutMs?: number;
  swapAttempts?: number;
}

export interface RebuildResult {
  projections: ProjectionName[];
  /** Events applied, from the start of the log to the swap. */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Where the rebuilt tables stood in the gap-free log when they went live. */
  checkpoint: GlobalCheckpoint;
}

export class RebuildInProgressError extends Error {
  constructor(projection: string) {
    super(`a rebuild of ${projection} is already running`);
    this.name = 'RebuildInProgressError';
  }
}

/** The slice of knex's client that hands out raw pg connections. */
interface PooledClient {
  acquireConnection(): Promise<ClientBase>;
  releaseConnection(connection: ClientBase): Promise<void>;
}

const stampNow = (): string => new Date().toISOString().replace(/\D/g, '').slice(0, 14);

/**
 * Rebuilds projections without downtime: fills new tables from the event store's gap-free log, from the
 * start, while the live runner keeps serving and updating the old ones; then, holding the swap locks the
 * live runner also takes, applies the last events and swaps the new tables in, in one transaction.
 * Several projections are rebuilt in one pass over the log. The events go through the same code as live
 * deliveries (projectBatch and each projection's writer), so the rows are the same; projections have no
 * side effects, so nothing is re-sent. One rebuild of a projection runs at a time.
 */
export async function rebuildProjections(
  deps: RebuildDependencies,
  names: readonly ProjectionName[],
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const projections = [...new Set(names)].sort().map((name) => PROJECTIONS[name]);
  if (projections.length === 0) throw new Error('nothing to rebuild');
  const logger = deps.logger ?? createLogger('projections-rebuild');
  const client = deps.db.client as PooledClient;
  const connection = await client.acquireConnection();
  const locked: ProjectionName[] = [];
  try {
    for (const { name } of projections) {
      if (!(await tryRebuildLock(connection, schema, name))) throw new RebuildInProgressError(name);
      locked.push(name);
    }
    const started = process.hrtime.bigint();
    const stamp = stampNow();
    const target = rebuildTables(schema, stamp);
    const tables = projections.flatMap((projection) => projection.tables);
    await dropUnfinishedRebuilds(deps.db, schema, tables, logger);
    await createRebuildTables(deps.db, target, tables);
    const builder = new RebuildBuilder(
      deps.db,
      deps.store,
      projections,
      target,
      {
        batchSize: options.batchSize ?? 5000,
        flushEvents: options.flushEvents ?? 50_000,
        flushOrders: options.flushOrders ?? 50_000,
        maxCachedOrders: options.maxCachedOrders ?? 100_000,
        lockTimeoutMs: options.lockTimeoutMs ?? 5000,
        swapAttempts: options.swapAttempts ?? 5,
      },
      logger,
    );
    try {
      logger.info({ projections: locked, schema, stamp }, 'rebuild started');
      await builder.catchUp();
      await analyzeTables(deps.db, target, tables);
      await builder.swapIn(schema, stamp);
    } catch (err) {
      await dropRebuildTables(deps.db, target, tables).catch(() => undefined);
      throw err;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const result: RebuildResult = {
      projections: locked,
      events: builder.events,
      seconds,
      eventsPerSecond: builder.events / seconds,
      checkpoint: builder.checkpoint,
    };
    logger.info(
      {
        projections: locked,
        events: result.events,
        seconds: Number(seconds.toFixed(2)),
        eventsPerSecond: Math.round(result.eventsPerSecond),
        position: result.checkpoint.globalPosition.toString(),
      },
      'rebuilt tables swapped in',
    );
    return result;
  } finally {
    for (const name of locked) await releaseRebuildLock(connection, schema, name);
    await client.releaseConnection(connection);
  }
}

export function rebuildProjection(deps: RebuildDependencies, name: ProjectionName, options: RebuildOptions = {}): Promise<RebuildResult> {
  return rebuildProjections(deps, [name], options);
}
