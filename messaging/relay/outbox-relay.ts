import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { config } from '../../config';
import {
  NOTIFY_CHANNEL,
  type StoredEvent,
  loadCheckpoint,
  saveCheckpoint,
  type GlobalCheckpoint,
  type PostgresEventStore,
  type ReadAllResult,
} from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';
import { backoffDelay } from '../async';
import type { Broker } from '../errors';
import { FastPathDeliveries, type DeliveredAmong } from './fast-path-deliveries';
import type { EventPublisher } from '../publisher';
import { LeadershipLostError, type RelayLeadership } from './relay-lease';
import { SharedLogReader } from './shared-log-reader';

/*
 * The outbox relay: the event log is the outbox. Each broker has its own lane with its own checkpoint
 * (`<prefix>:<broker>` in subscription_checkpoints), so a broker that is down holds back only its own
 * lane. A lane reads committed events with the gap-free reader, publishes them in batches, and saves
 * its checkpoint only once the broker confirmed every batch up to it:
 *   - nothing uncommitted is published: the reader never returns an event of an open transaction;
 *   - everything committed is published at least once: after a crash or a failed batch the lane
 *     publishes again from its saved checkpoint (consumers deduplicate by event id).
 * A failing lane retries with a capped backoff for as long as it takes, then resumes.
 *
 * The fast path comes first: the order workflow publishes its events as it appends them and records
 * what every broker confirmed (FastPathDeliveries). A lane skips those, and leaves an event that is
 * not recorded yet to the fast path for a grace period after its commit (RELAY_FAST_PATH_GRACE_MS);
 * then it publishes it. So an event normally reaches each broker once, and the relay still delivers
 * whatever the fast path did not.
 *
 * Throughput: the lanes share the pages they read (SharedLogReader) and each event's encoding, the
 * next page is read while the current one is being published, and a publisher that allows it has
 * several batches in flight. Lanes wake on the store's NOTIFY and poll in between, so a lost
 * notification costs latency, never events.
 */

export const relayCheckpointId = (prefix: string, broker: Broker): string => `${prefix}:${broker}`;

export interface RelayOptions {
  db: Knex;
  /** A store whose registry knows the event types to upcast; unknown types pass through unchanged. */
  store: PostgresEventStore;
  publishers: readonly EventPublisher[];
  /** A connection with LISTEN open (listenForAppends) to wake the lanes early; polling works without. */
  listener?: PgClient;
  /** Defaults to RELAY_CHECKPOINT_PREFIX. */
  checkpointPrefix?: string;
  batchSize?: number;
  /** The longest pause between polls when no notification arrives. */
  maxPollIntervalMs?: number;
  /** How long an event not yet delivered by the fast path is left to it. Defaults to RELAY_FAST_PATH_GRACE_MS. */
  fastPathGraceMs?: number;
  logger?: Logger;
  /**
   * Leases for the lanes (keyed by checkpoint id): a lane publishes only while this instance leads it,
   * and loads its checkpoint each time it becomes the leader. Without it every lane always leads (one
   * relay per checkpoint prefix, as in tests).
   */
  leadership?: RelayLeadership;
}

export interface RelayLaneState {
  broker: Broker;
  checkpointId: string;
  /** The last saved checkpoint: everything up to it is confirmed by the broker. */
  checkpoint: GlobalCheckpoint;
  /** Events published by this process (repeats included). */
  published: number;
  /** Events passed over because the fast path had delivered them. */
  skipped: number;
  /** Failed attempts in a row; 0 once a batch went through. */
  consecutiveFailures: number;
  lastError?: string;
  /** This instance leads the lane (always, without leadership). */
  leading: boolean;
}

interface Lane {
  publisher: EventPublisher;
  state: RelayLaneState;
  wake?: () => void;
  /** A notification came while the lane was busy: the events may have missed its last read. */
  notified: boolean;
  loop?: Promise<void>;
}

interface InFlight {
  publish: Promise<void>;
  checkpoint: GlobalCheckpoint;
  events: number;
  skipped: number;
}

/** A page of the log with what the fast path delivered of it: read once, shared by the lanes. */
type DeliveredPage = ReadAllResult & DeliveredAmong;

/** A page of the log as a lane handles it: what to publish, and how far that takes its checkpoint. */
interface LanePage {
  events: StoredEvent[];
  checkpoint: GlobalCheckpoint;
  skipped: number;
  /** The log page was full: more may follow at once. */
  full: boolean;
  /** Set when the page stops at an event left to the fast path: how long until it is the lane's turn. */
  deferMs?: number;
}

/** Events older than this are forgotten by the fast-path record (a lane this far behind publishes repeats). */
const FAST_PATH_RECORD_RETENTION_MS = 60 * 60 * 1000;
const FAST_PATH_PRUNE_INTERVAL_MS = 60 * 1000;
/** How often a standby lane looks whether its instance has taken the lease (an in-memory check). */
const STANDBY_CHECK_INTERVAL_MS = 50;

export class OutboxRelay {
  private readonly lanes: Lane[];
  private readonly logger: Logger;
  private readonly prefix: string;
  private readonly batchSize: number;
  private readonly maxPollIntervalMs: number;
  private readonly reader: SharedLogReader<DeliveredPage>;
  private readonly deliveries: FastPathDeliveries;
  private readonly fastPathGraceMs: number;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  private started = false;

  constructor(private readonly options: RelayOptions) {
    this.logger = options.logger ?? createLogger('relay');
    this.prefix = options.checkpointPrefix ?? config().RELAY_CHECKPOINT_PREFIX;
    this.batchSize = options.batchSize ?? config().RELAY_BATCH_SIZE;
    this.maxPollIntervalMs = options.maxPollIntervalMs ?? config().RELAY_MAX_POLL_INTERVAL_MS;
    this.fastPathGraceMs = options.fastPathGraceMs ?? config().RELAY_FAST_PATH_GRACE_MS;
    this.deliveries = new FastPathDeliveries(options.db);
    const brokers = options.publishers.map((p) => p.broker);
    if (new Set(brokers).size !== brokers.length) throw new RangeError(`One publisher per broker: got ${brokers.join(', ')}`);
    this.reader = new SharedLogReader((after) => this.readDelivered(after), options.publishers.length, this.batchSize);
    this.lanes = options.publishers.map((publisher) => ({
      publisher,
      notified: false,
      state: {
        broker: publisher.broker,
        checkpointId: relayCheckpointId(this.prefix, publisher.broker),
        checkpoint: { transactionId: 0n, globalPosition: 0n },
        published: 0,
        skipped: 0,
        consecutiveFailures: 0,
        leading: options.leadership === undefined,
      },
    }));
  }

  /** Loads each lane's checkpoint and starts following the log. */
  async start(): Promise<void> {
    if (this.started) throw new Error('The relay is already started');
    this.started = true;
    for (const lane of this.lanes) lane.state.checkpoint = await loadCheckpoint(this.options.db, lane.state.checkpointId);
    this.options.listener?.on('notification', this.onNotification);
    this.pruneTimer = setInterval(() => {
      this.deliveries
        .prune(FAST_PATH_RECORD_RETENTION_MS)
        .catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'could not prune the fast-path record'));
    }, FAST_PATH_PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    for (const lane of this.lanes) {
      // Awaited by stop(). It never rejects: runLane catches every round's failure and backs off.
      lane.loop = this.runLane(lane);
      this.logger.info(
        { broker: lane.state.broker, checkpointId: lane.state.checkpointId, from: formatCheckpoint(lane.state.checkpoint) },
        'relay lane started',
      );
    }
  }

  /** Stops once the batches in flight are confirmed (and their checkpoints saved) or failed. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.pruneTimer);
    for (const lane of this.lanes) lane.wake?.();
    await Promise.all(this.lanes.map((lane) => lane.loop));
    this.options.listener?.off('notification', this.onNotification);
    this.logger.info({ lanes: this.status().map((s) => ({ broker: s.broker, published: s.published, skipped: s.skipped })) }, 'relay stopped');
  }

  status(): RelayLaneState[] {
    return this.lanes.map((lane) => ({ ...lane.state }));
  }

  private readonly onNotification = (message: { channel: string }): void => {
    if (message.channel !== NOTIFY_CHANNEL) return;
    for (const lane of this.lanes) {
      lane.notified = true;
      lane.wake?.();
    }
  };

  private async runLane(lane: Lane): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        if (!(await this.leadLane(lane))) {
          await this.idle(lane, STANDBY_CHECK_INTERVAL_MS, { ignoreNotifications: true });
          continue;
        }
        const deferMs = await this.catchUp(lane);
        // Left to the fast path: new appends are no reason to look again before its grace ends.
        if (deferMs !== undefined) await this.idle(lane, deferMs, { ignoreNotifications: true });
        else await this.idle(lane, this.maxPollIntervalMs);
      } catch (err) {
        if (err instanceof LeadershipLostError) {
          lane.state.leading = false;
          this.logger.warn({ broker: lane.state.broker, checkpointId: lane.state.checkpointId }, 'relay lane stopped publishing: leadership lost');
          continue;
        }
        this.onLaneError(lane, err);
        await this.idle(lane, backoffDelay(lane.state.consecutiveFailures, 100, 5000), { ignoreNotifications: true });
      }
    }
  }

  /**
   * Whether the lane may publish now. A lane that has just become the leader resumes from the
   * checkpoint saved by whoever led before.
   */
  private async leadLane(lane: Lane): Promise<boolean> {
    const leadership = this.options.leadership;
    if (!leadership) return true;
    if (!leadership.leads(lane.state.checkpointId)) {
      lane.state.leading = false;
      return false;
    }
    if (!lane.state.leading) {
      lane.state.checkpoint = await loadCheckpoint(this.options.db, lane.state.checkpointId);
      lane.state.leading = true;
      this.logger.info(
        { broker: lane.state.broker, checkpointId: lane.state.checkpointId, from: formatCheckpoint(lane.state.checkpoint), epoch: leadership.epochOf(lane.state.checkpointId).toString() },
        'relay lane leads',
      );
    }
    return true;
  }

  /** Throws once this instance no longer leads the lane: nothing more is published. */
  private assertLeads(lane: Lane): void {
    if (this.options.leadership && !this.options.leadership.leads(lane.state.checkpointId)) throw new LeadershipLostError(lane.state.checkpointId);
  }

  /**
   * Publishes from the lane's checkpoint until a page comes back short (the lane is caught up) or stops
   * at an event left to the fast path (then resolves to how long to wait). The next page is read while
   * the current one is published, and a confirmed batch's checkpoint is saved while the next batch is
   * published (one save at a time, in order). On a failure it waits for everything in flight to settle, so the
   * next attempt starts cleanly from the last saved checkpoint.
   */
  private async catchUp(lane: Lane): Promise<number | undefined> {
    const depth = Math.max(1, lane.publisher.maxInFlightBatches);
    const inFlight: InFlight[] = [];
    let saving: Promise<void> = Promise.resolve();
    let deferMs: number | undefined;
    // This read sees everything notified so far; only later notifications call for another round.
    lane.notified = false;
    let from = lane.state.checkpoint;
    let next: Promise<LanePage> | undefined = this.readPage(from);
    try {
      while (next) {
        const page: LanePage = await next;
        next = undefined;
        if (page.events.length > 0 || page.skipped > 0) {
          this.assertLeads(lane);
          const publish = page.events.length > 0 ? lane.publisher.publish(page.events) : Promise.resolve();
          // Awaited below in order; this only keeps an early rejection from counting as unhandled.
          publish.catch(() => undefined);
          inFlight.push({ publish, checkpoint: page.checkpoint, events: page.events.length, skipped: page.skipped });
        }
        deferMs = page.deferMs;
        const more = page.full && deferMs === undefined && !this.stopping.signal.aborted;
        if (more) {
          from = page.checkpoint;
          next = this.readPage(from);
          next.catch(() => undefined);
        }
        while (inFlight.length >= depth || (!more && inFlight.length > 0)) {
          const confirmed = inFlight.shift()!;
          await confirmed.publish;
          // One save at a time, and none queued behind it: what a crash leaves published but not
          // checkpointed (and the next leader publishes again) is at most the batches in flight plus
          // the one being saved.
          await saving;
          saving = this.saveCheckpoint(lane, confirmed);
          saving.catch(() => undefined);
        }
      }
      await saving;
      return deferMs;
    } finally {
      await Promise.allSettled([...inFlight.map((batch) => batch.publish), saving]);
    }
  }

  /**
   * Reads the next page of the log and takes out what the fast path delivered. The page ends early at
   * the first event the fast path may still deliver (committed less than the grace period ago): the
   * lane comes back to it once the grace is over.
   */
  private async readPage(after: GlobalCheckpoint): Promise<LanePage> {
    const page = await this.reader.read(after);
    const full = page.events.length === this.batchSize;
    // A lane that takes a shared page later judges age by the read's clock: it defers longer, never less.
    const { delivered, databaseNow } = page;
    const events: StoredEvent[] = [];
    let checkpoint = after;
    let skipped = 0;
    for (const event of page.events) {
      if (delivered.has(event.globalPosition)) {
        skipped++;
      } else {
        const age = databaseNow.getTime() - event.recordedAt.getTime();
        if (age < this.fastPathGraceMs) return { events, checkpoint, skipped, full, deferMs: Math.max(1, this.fastPathGraceMs - age) };
        events.push(event);
      }
      checkpoint = { transactionId: event.transactionId, globalPosition: event.globalPosition };
    }
    return { events, checkpoint, skipped, full };
  }

  private async readDelivered(after: GlobalCheckpoint): Promise<DeliveredPage> {
    const page = await this.options.store.readAll({ after, limit: this.batchSize });
    if (page.events.length === 0) return { ...page, delivered: new Set(), databaseNow: new Date() };
    return { ...page, ...(await this.deliveries.among(page.events.map((e) => e.globalPosition))) };
  }

  private async saveCheckpoint(lane: Lane, batch: InFlight): Promise<void> {
    if (this.options.leadership) await this.options.leadership.saveCheckpoint(lane.state.checkpointId, batch.checkpoint);
    else await saveCheckpoint(this.options.db, lane.state.checkpointId, batch.checkpoint);
    if (lane.state.consecutiveFailures > 0) {
      this.logger.info({ broker: lane.state.broker, afterFailures: lane.state.consecutiveFailures }, 'relay lane recovered');
    }
    lane.state.checkpoint = batch.checkpoint;
    lane.state.published += batch.events;
    lane.state.skipped += batch.skipped;
    lane.state.consecutiveFailures = 0;
    lane.state.lastError = undefined;
    this.logger.debug({ broker: lane.state.broker, events: batch.events, to: formatCheckpoint(batch.checkpoint) }, 'relayed batch');
  }

  private onLaneError(lane: Lane, err: unknown): void {
    lane.state.consecutiveFailures++;
    lane.state.lastError = err instanceof Error ? err.message : String(err);
    // The first failure and then every 10th: a broker outage should not flood the log.
    if (lane.state.consecutiveFailures === 1 || lane.state.consecutiveFailures % 10 === 0) {
      this.logger.warn(
        { broker: lane.state.broker, consecutiveFailures: lane.state.consecutiveFailures, err: lane.state.lastError },
        'relay lane failed; retrying with backoff',
      );
    }
  }

  /** Waits for the timeout, a notification of new events (unless backing off) or stop. */
  private idle(lane: Lane, ms: number, options: { ignoreNotifications?: boolean } = {}): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve();
    if (!options.ignoreNotifications && lane.notified) {
      lane.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        lane.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // A backoff is cut short by stop only: new events are no reason to hit a failing broker sooner.
      lane.wake = options.ignoreNotifications
        ? () => {
            if (this.stopping.signal.aborted) done();
          }
        : () => {
            lane.notified = false;
            done();
          };
    });
  }
}

export function formatCheckpoint(checkpoint: GlobalCheckpoint): { transactionId: string; globalPosition: string } {
  return { transactionId: checkpoint.transactionId.toString(), globalPosition: checkpoint.globalPosition.toString() };
}
