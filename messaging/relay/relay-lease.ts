import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { saveCheckpoint, type GlobalCheckpoint } from '../../eventstore';
import { createLogger, type Logger } from '../../infra/logger';

/*
 * Relay leadership: one relay instance leads each lane (`<prefix>:<broker>`), the one holding the lane's
 * row in relay_leases. A lease is taken and renewed by one conditional upsert that the database decides
 * on its own clock (now()), so the instances' clocks never have to agree. Each new holder raises the
 * lane's epoch, and a lane's checkpoint is saved only under the epoch that holds the lease, with the
 * lease row share-locked: a leader that lost its lease can no longer move the new leader's checkpoint.
 *
 * The leader trusts its lease locally only until the time the database gave it, counted from before the
 * renewal was sent (so the local deadline always falls before the database's expiry): a leader whose
 * renewals fail, hang, or whose event loop stalls, stops starting publishes once that time has passed,
 * before a standby can take over.
 */

/** A lease as this instance holds it: the epoch and until when (performance.now() ms) it may act on it. */
export interface HeldLease {
  epoch: bigint;
  validUntil: number;
}

/** The answer of a successful acquire or renew. */
export interface LeaseGrant {
  epoch: bigint;
  /** How long the lease still runs, by the database's clock. */
  remainingMs: number;
}

export type LeadershipChange = 'acquired' | 'renewed' | 'lost' | 'standby';

/**
 * Until when a granted lease may be acted on: from the moment the request was sent (the database's
 * now() is later than that), less a margin for the two clocks' rates.
 */
export function leaseValidUntil(sentAt: number, grant: LeaseGrant, marginMs: number): number {
  return sentAt + grant.remainingMs - marginMs;
}

/** Whether this instance may still act as the lane's leader at `now` (performance.now() ms). */
export function holdsLease(lease: HeldLease | undefined, now: number): boolean {
  return lease !== undefined && now < lease.validUntil;
}

/**
 * What an attempt to acquire or renew changed: a grant under another epoch than the one held is a new
 * term (a lease that lapsed locally and was granted again counts as lost and acquired: the lane
 * reloads its checkpoint either way).
 */
export function leadershipChange(before: HeldLease | undefined, now: number, grant: LeaseGrant | undefined): LeadershipChange {
  const held = holdsLease(before, now);
  if (grant === undefined) return held || before !== undefined ? 'lost' : 'standby';
  if (held && before!.epoch === grant.epoch) return 'renewed';
  return 'acquired';
}

/** The margin kept off the database's expiry: a twentieth of the TTL, at most 250 ms. */
export const leaseMarginMs = (ttlMs: number): number => Math.min(250, Math.floor(ttlMs / 20));

/** A renewal must have several chances before the lease runs out. */
export function checkLeaseTimings(ttlMs: number, renewIntervalMs: number): void {
  if (renewIntervalMs * 2 > ttlMs) {
    throw new RangeError(`RELAY_LEASE_RENEW_INTERVAL_MS (${renewIntervalMs}) must be at most half of RELAY_LEASE_TTL_MS (${ttlMs})`);
  }
}

export const defaultInstanceId = (): string => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

export class LeadershipLostError extends Error {
  constructor(lane: string) {
    super(`This relay no longer leads lane ${lane}`);
    this.name = 'LeadershipLostError';
  }
}

export interface LeaseRow {
  lane: string;
  holder: string;
  epoch: string;
  /** Milliseconds until it expires by the database's clock; negative once expired. */
  expiresInMs: number;
  acquiredAt: Date;
}

/** relay_leases: the conditional statements that take, renew, release and read leases. */
export class RelayLeaseStore {
  constructor(private readonly db: Knex) {}

  /**
   * Takes the lane's lease for `holder`, or renews it if the holder has it: one statement, decided on
   * the database's clock. A new epoch when the lease changes hands or had expired. Undefined while
   * another holder's lease runs.
   */
  async acquire(lane: string, holder: string, ttlMs: number): Promise<LeaseGrant | undefined> {
    const { rows } = await this.db.raw<{ rows: { epoch: string; remaining_ms: number }[] }>(
      `INSERT INTO relay_leases AS l (lane, holder, epoch, acquired_at, renewed_at, expires_at)
       VALUES (?, ?, 1, now(), now(), now() + make_interval(secs => ? / 1000.0))
       ON CONFLICT (lane) DO UPDATE SET
         holder = excluded.holder,
         epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.epoch ELSE l.epoch + 1 END,
         acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > now() THEN l.acquired_at ELSE now() END,
         renewed_at = now(),
         expires_at = excluded.expires_at
       WHERE l.holder = excluded.holder OR l.expires_at <= now()
       RETURNING epoch::text AS epoch, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS remaining_ms`,
      [lane, holder, ttlMs],
    );
    const row = rows[0];
    return row ? { epoch: BigInt(row.epoch), remainingMs: row.remaining_ms } : undefined;
  }

  /** Gives the lease up at once (a graceful stop), so that a standby need not wait for it to expire. */
  async release(lane: string, holder: string, epoch: bigint): Promise<void> {
    await this.db.raw('UPDATE relay_leases SET expires_at = now() WHERE lane = ? AND holder = ? AND epoch = ? AND expires_at > now()', [
      lane,
      holder,
      epoch.toString(),
    ]);
  }

  /**
   * Saves a lane's checkpoint if `holder` still holds the lease under `epoch`. The lease row is
   * share-locked for the save, so a takeover waits for it and a save after a takeover writes nothing.
   * Resolves to whether it saved.
   */
  async saveCheckpoint(lane: string, holder: string, epoch: bigint, checkpoint: GlobalCheckpoint): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      const held = await trx.raw<{ rows: unknown[] }>(
        'SELECT 1 FROM relay_leases WHERE lane = ? AND holder = ? AND epoch = ? AND expires_at > now() FOR SHARE',
        [lane, holder, epoch.toString()],
      );
      if (held.rows.length === 0) return false;
      await saveCheckpoint(trx, lane, checkpoint);
      return true;
    });
  }

  /** The leases of these lanes, as the database sees them now. */
  async read(lanes: readonly string[]): Promise<LeaseRow[]> {
    if (lanes.length === 0) return [];
    const { rows } = await this.db.raw<{ rows: { lane: string; holder: string; epoch: string; expires_in_ms: number; acquired_at: Date }[] }>(
      `SELECT lane, holder, epoch::text AS epoch, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS expires_in_ms, acquired_at
         FROM relay_leases WHERE lane = ANY(?::text[]) ORDER BY lane`,
      [lanes as string[]],
    );
    return rows.map((r) => ({ lane: r.lane, holder: r.holder, epoch: r.epoch, expiresInMs: r.expires_in_ms, acquiredAt: r.acquired_at }));
  }
}

export interface LaneLeadershipState {
  lane: string;
  leading: boolean;
  epoch?: string;
  /** Times this instance took the lane. */
  acquisitions: number;
  /** Times it lost the lane (its lease lapsed or was taken). */
  losses: number;
}

export interface RelayLeadershipOptions {
  db: Knex;
  lanes: readonly string[];
  ttlMs: number;
  renewIntervalMs: number;
  instanceId?: string;
  logger?: Logger;
  /** Told of every acquisition and loss (metrics). */
  onChange?: (lane: string, change: 'acquired' | 'lost', epoch: bigint | undefined) => void;
}

/**
 * Keeps trying to take, and then renewing, the leases of a relay's lanes. `leads(lane)` answers from
 * the local deadline, so it turns false on time even if the database stops answering.
 */
export class RelayLeadership {
  readonly instanceId: string;
  private readonly store: RelayLeaseStore;
  private readonly logger: Logger;
  private readonly marginMs: number;
  private readonly held = new Map<string, HeldLease>();
  private readonly counts = new Map<string, { acquisitions: number; losses: number }>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RelayLeadershipOptions) {
    checkLeaseTimings(options.ttlMs, options.renewIntervalMs);
    this.instanceId = options.instanceId ?? defaultInstanceId();
    this.store = new RelayLeaseStore(options.db);
    this.logger = options.logger ?? createLogger('relay-leadership');
    this.marginMs = leaseMarginMs(options.ttlMs);
    for (const lane of options.lanes) this.counts.set(lane, { acquisitions: 0, losses: 0 });
  }

  /** Runs the first round (so a lone instance leads at once) and then one every renew interval. */
  async start(): Promise<void> {
    await this.runRound();
    this.schedule();
  }

  leads(lane: string): boolean {
    return !this.stopped && holdsLease(this.held.get(lane), performance.now());
  }

  /** The epoch this instance leads the lane under; throws if it does not lead it. */
  epochOf(lane: string): bigint {
    const lease = this.held.get(lane);
    if (!this.leads(lane) || !lease) throw new LeadershipLostError(lane);
    return lease.epoch;
  }

  /** Saves the lane's checkpoint under the lease; throws LeadershipLostError if the lease is gone. */
  async saveCheckpoint(lane: string, checkpoint: GlobalCheckpoint): Promise<void> {
    const saved = await this.store.saveCheckpoint(lane, this.instanceId, this.epochOf(lane), checkpoint);
    if (!saved) {
      this.dropLease(lane);
      throw new LeadershipLostError(lane);
    }
  }

  status(): LaneLeadershipState[] {
    return this.options.lanes.map((lane) => ({
      lane,
      leading: this.leads(lane),
      epoch: this.leads(lane) ? this.held.get(lane)?.epoch.toString() : undefined,
      ...this.counts.get(lane)!,
    }));
  }

  /** Stops renewing and releases the leases held, so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    for (const [lane, lease] of this.held) {
      await this.store.release(lane, this.instanceId, lease.epoch).catch((err: unknown) => {
        this.logger.warn({ lane, err: (err as Error).message }, 'could not release the relay lease; it will expire');
      });
      this.logger.info({ lane, epoch: lease.epoch.toString() }, 'relay lease released');
    }
    this.held.clear();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.runRound().finally(() => this.schedule());
    }, this.options.renewIntervalMs);
  }

  private async runRound(): Promise<void> {
    for (const lane of this.options.lanes) {
      if (this.stopped) return;
      const sentAt = performance.now();
      let grant: LeaseGrant | undefined;
      try {
        grant = await this.store.acquire(lane, this.instanceId, this.options.ttlMs);
      } catch (err) {
        // The lease keeps its local deadline: a leader that cannot renew stops when it passes.
        this.logger.warn({ lane, err: (err as Error).message }, 'could not renew or take the relay lease');
        this.noteLapse(lane);
        continue;
      }
      if (this.stopped) {
        if (grant) this.held.set(lane, { epoch: grant.epoch, validUntil: leaseValidUntil(sentAt, grant, this.marginMs) });
        return;
      }
      const before = this.held.get(lane);
      const change = leadershipChange(before, performance.now(), grant);
      if (grant) this.held.set(lane, { epoch: grant.epoch, validUntil: leaseValidUntil(sentAt, grant, this.marginMs) });
      else this.held.delete(lane);
      if (change === 'acquired') {
        // A term of ours that ended unnoticed (it lapsed locally) ends before the new one.
        if (before) this.noteLoss(lane, before);
        this.counts.get(lane)!.acquisitions++;
        this.logger.info({ lane, epoch: grant!.epoch.toString(), instance: this.instanceId }, 'relay lane leadership acquired');
        this.options.onChange?.(lane, 'acquired', grant!.epoch);
      } else if (change === 'lost') {
        this.noteLoss(lane, before);
      }
    }
  }

  /** A lease whose local deadline passed without a renewal is lost, whether or not the database answers. */
  private noteLapse(lane: string): void {
    const lease = this.held.get(lane);
    if (lease && !holdsLease(lease, performance.now())) {
      this.held.delete(lane);
      this.noteLoss(lane, lease);
    }
  }

  private dropLease(lane: string): void {
    const lease = this.held.get(lane);
    this.held.delete(lane);
    if (lease) this.noteLoss(lane, lease);
  }

  private noteLoss(lane: string, lease: HeldLease | undefined): void {
    this.counts.get(lane)!.losses++;
    this.logger.warn({ lane, epoch: lease?.epoch.toString(), instance: this.instanceId }, 'relay lane leadership lost');
    this.options.onChange?.(lane, 'lost', lease?.epoch);
  }
}
