import type { Knex } from 'knex';
import { ORDER_STREAM_TYPE, type OrderState } from '../../domain';
import { START_OF_LOG, type GlobalCheckpoint, type PostgresEventStore, type StoredEvent } from '../../eventstore';
import type { Logger } from '../../infra/logger';
import { projectBatch } from './apply';
import { resetWatermark } from './watermarks';
import { eventsByOrder } from './fold';
import { holdSwapLockExclusive } from './locks';
import { OrderStateCache } from './order-cache';
import { isFinished } from './stored-state';
import { swapTables } from './swap';
import type { TableSet } from './tables';
import type { AppliedOrder, Db, OrderProgress, Projection, ProjectionBatch, ProjectionStep } from './types';

export interface BuilderOptions {
  /** Events read per batch. */
  batchSize: number;
  /** Write every this many events ... */
  flushEvents: number;
  /** ... or once this many orders wait to be written, then all of them. */
  flushOrders: number;
  /** Written orders whose state stays in memory. */
  maxCachedOrders: number;
  /** How long the swap may wait for a lock before it gives up and tries again (ms). */
  lockTimeoutMs: number;
  swapAttempts: number;
}

/**
 * What a rebuild holds in memory: the changes of the events applied since the last flush (one batch per
 * projection), and the orders whose rows are not written yet.
 */
class WorkingSet {
  private readonly batches: ProjectionBatch[];
  readonly orders: Map<string, AppliedOrder>;

  constructor(projections: readonly Projection[], carried: readonly AppliedOrder[] = []) {
    this.batches = projections.map((projection) => projection.startBatch());
    this.orders = new Map(carried.map((order) => [order.orderId, order]));
  }

  step(step: ProjectionStep): void {
    for (const batch of this.batches) batch.step(step);
  }

  /** Writes every projection's rows in the given transaction, one projection after another. */
  async write(db: Db, target: TableSet): Promise<void> {
    const orders = [...this.orders.values()];
    for (const batch of this.batches) await batch.write(db, target, orders);
  }

  /**
   * Writes each projection's rows in a transaction of its own, all at once: nothing reads the new
   * tables before the swap, so they need not change together, and Postgres can use several cores.
   */
  async writeApart(db: Knex, target: TableSet): Promise<void> {
    const orders = [...this.orders.values()];
    await Promise.all(this.batches.map((batch) => db.transaction((trx) => batch.write(trx, target, orders))));
  }
}

function partition<T>(items: Iterable<T>, test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

// The swap gives up and tries again when it cannot get its locks in time, or when it was chosen as the
// victim of a deadlock (a live transaction applying several projections may hold one swap lock shared
// while it waits for another).
const RETRY_SWAP = new Set(['55P03', '40P01']);
const isLockConflict = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && RETRY_SWAP.has(String((err as { code: unknown }).code));

/**
 * Fills a rebuild's new tables from the log for one or more projections in a single pass: each event is
 * read and evolved once and handed to every projection. Then swaps them in.
 */
export class RebuildBuilder {
  private readonly cache: OrderStateCache;
  /** How far the log has been read and applied, and how many events that was. */
  private position: GlobalCheckpoint = START_OF_LOG;
  private applied = 0;

  constructor(
    private readonly db: Knex,
    private readonly store: PostgresEventStore,
    private readonly projections: readonly Projection[],
    private readonly target: TableSet,
    private readonly options: BuilderOptions,
    private readonly logger: Logger,
  ) {
    this.cache = new OrderStateCache(options.maxCachedOrders);
  }

  get events(): number {
    return this.applied;
  }

  get checkpoint(): GlobalCheckpoint {
    return this.position;
  }

  /**
   * Reads the log in large batches (the next while the current one is applied) and writes behind. Every
   * flushEvents events the changes so far, and the orders that are finished (nothing more happens to
   * them, so each is written once), are written in the background while the next events are applied;
   * the other orders stay in memory. A rebuild that dies starts over, so holding rows back loses nothing.
   * When it returns, everything read is written.
   */
  async catchUp(): Promise<void> {
    const { flushEvents, flushOrders } = this.options;
    let work = new WorkingSet(this.projections);
    let sinceFlush = 0;
    let flushing: { set: WorkingSet; written: Promise<void> } | undefined;
    let page = await this.read(this.position);
    let lastLog = Date.now();
    while (page.events.length > 0) {
      const next = page.events.length === this.options.batchSize ? this.read(page.checkpoint) : undefined;
      next?.catch(() => undefined);
      await this.project(this.db, [work, flushing?.set], work, page.events);
      this.applied += page.events.length;
      this.position = page.checkpoint;
      sinceFlush += page.events.length;
      if (sinceFlush >= flushEvents || work.orders.size >= flushOrders) {
        await flushing?.written;
        const everything = work.orders.size >= flushOrders;
        const [done, open] = partition(work.orders.values(), (order) => everything || isFinished(order.state));
        const set = work;
        set.orders.clear();
        for (const order of done) set.orders.set(order.orderId, order);
        const written = this.flush(set);
        written.catch(() => undefined);
        flushing = { set, written };
        work = new WorkingSet(this.projections, open);
        sinceFlush = 0;
      }
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        this.logger.info({ projections: this.names(), events: this.applied, position: this.position.globalPosition.toString() }, 'rebuilding');
      }
      if (next === undefined) break;
      page = await next;
    }
    await flushing?.written;
    await this.flush(work);
  }

  /**
   * Under the swap locks no live batch runs, so whatever is committed now is all the live tables can
   * have applied: the rest of the gap-free log, and events committed beyond it (held back by an older
   * transaction still open) that a live batch may have read from the store to fill a gap. Those are
   * applied, and the tables swapped, in one transaction.
   */
  async swapIn(schema: string, stamp: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const done = await this.db.transaction(async (trx) => {
          await trx.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(this.options.lockTimeoutMs))}`);
          for (const name of this.names().sort()) await holdSwapLockExclusive(trx, schema, name);
          const tail = await this.readTail();
          const beyond = await this.committedBeyond(trx, tail.checkpoint);
          const last = new WorkingSet(this.projections);
          await this.project(trx, [last], last, [...tail.events, ...beyond]);
          await last.write(trx, this.target);
          for (const projection of this.projections) {
            await swapTables(trx, this.target, projection.tables, stamp);
            await resetWatermark(trx, schema, projection.name, tail.checkpoint);
          }
          return { last, tail };
        });
        this.cache.remember(done.last.orders.values());
        this.applied += done.tail.events.length;
        this.position = done.tail.checkpoint;
        return;
      } catch (err) {
        if (!isLockConflict(err) || attempt >= this.options.swapAttempts) throw err;
        this.logger.warn({ projections: this.names(), attempt }, 'swap could not take its locks in time; catching up and trying again');
        await this.catchUp();
      }
    }
  }

  private names(): string[] {
    return this.projections.map((projection) => projection.name);
  }

  private read(after: GlobalCheckpoint): Promise<{ events: StoredEvent[]; checkpoint: GlobalCheckpoint }> {
    return this.store.readAll({ after, limit: this.options.batchSize, streamType: ORDER_STREAM_TYPE });
  }

  private async readTail(): Promise<{ events: StoredEvent[]; checkpoint: GlobalCheckpoint }> {
    const events: StoredEvent[] = [];
    let checkpoint = this.position;
    for (;;) {
      const page = await this.read(checkpoint);
      events.push(...page.events);
      checkpoint = page.checkpoint;
      if (page.events.length < this.options.batchSize) return { events, checkpoint };
    }
  }

  /** The newest event of every order with committed events past the gap-free checkpoint. */
  private async committedBeyond(trx: Knex.Transaction, after: GlobalCheckpoint): Promise<StoredEvent[]> {
    const { rows } = await trx.raw<{ rows: { stream_id: string }[] }>(
      `SELECT DISTINCT stream_id FROM events
        WHERE stream_type = ? AND (transaction_id, global_position) > (?::xid8, ?::bigint)`,
      [ORDER_STREAM_TYPE, after.transactionId.toString(), after.globalPosition.toString()],
    );
    const newest: StoredEvent[] = [];
    for (const { stream_id: streamId } of rows) {
      newest.push(...(await this.store.readStream(streamId, { direction: 'backward', limit: 1 })));
    }
    return newest;
  }

  /** Applies events into `into`; states come from the working sets first (newest first), then the cache. */
  private async project(db: Db, sets: readonly (WorkingSet | undefined)[], into: WorkingSet, events: readonly StoredEvent[]): Promise<void> {
    const { orders } = await projectBatch({
      store: this.store,
      projection: this.projections[0]!,
      byOrder: eventsByOrder(events).byOrder,
      loadProgress: (orderIds) => this.progress(db, sets, orderIds),
      batch: into,
    });
    for (const order of orders) into.orders.set(order.orderId, order);
  }

  /** Writes a working set; its orders then join the cache. */
  private async flush(set: WorkingSet): Promise<void> {
    await set.writeApart(this.db, this.target);
    this.cache.remember(set.orders.values());
  }

  /**
   * Only this rebuild writes the new tables, so an order it holds nowhere has nothing applied there,
   * unless the cache has dropped it: then it is read back (every projection holds the same progress).
   */
  private async progress(db: Db, sets: readonly (WorkingSet | undefined)[], orderIds: readonly string[]): Promise<Map<string, OrderProgress>> {
    const progress = new Map<string, OrderProgress>();
    const misses: string[] = [];
    for (const orderId of orderIds) {
      let state: OrderState | undefined;
      for (const set of sets) state ??= set?.orders.get(orderId)?.state;
      state ??= this.cache.get(orderId);
      if (state) progress.set(orderId, { version: state.version, state });
      else misses.push(orderId);
    }
    if (this.cache.incomplete && misses.length > 0) {
      for (const [orderId, stored] of await this.projections[0]!.load(db, this.target, misses, { lock: false })) progress.set(orderId, stored);
    }
    return progress;
  }
}
