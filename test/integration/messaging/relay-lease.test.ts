import type { Knex } from 'knex';
import { loadCheckpoint } from '../../../eventstore';
import { RelayLeadership, RelayLeaseStore } from '../../../messaging/relay/relay-lease';
import { openTestDatabase } from '../../support/postgres';
import { requireService } from '../../support/stack';
import { testLogger, uniqueName, waitFor } from './support';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('relay leases on Postgres', () => {
  let db: Knex;
  let store: RelayLeaseStore;

  beforeAll(async () => {
    requireService('postgres');
    db = await openTestDatabase();
    store = new RelayLeaseStore(db);
  });

  afterAll(async () => {
    await db?.destroy();
  });

  it('grants a lane to one holder at a time, renews it under the same epoch, and hands it on with a new epoch after expiry', async () => {
    const lane = uniqueName('lease');
    // Long enough that a loaded machine's pauses between the statements do not let it expire.
    const first = await store.acquire(lane, 'a', 1500);
    expect(first?.epoch).toBe(1n);
    expect(first!.remainingMs).toBeGreaterThan(1400);
    expect(first!.remainingMs).toBeLessThanOrEqual(1500);
    expect(await store.acquire(lane, 'b', 1500)).toBeUndefined();
    expect((await store.acquire(lane, 'a', 1500))?.epoch).toBe(1n);

    await sleep(1600);
    const taken = await store.acquire(lane, 'b', 5000);
    expect(taken?.epoch).toBe(2n);
    expect(await store.acquire(lane, 'a', 5000)).toBeUndefined();
    const [row] = await store.read([lane]);
    expect(row).toMatchObject({ lane, holder: 'b', epoch: '2' });
  });

  it('lets only one of many simultaneous contenders win', async () => {
    const lane = uniqueName('lease-race');
    const grants = await Promise.all(Array.from({ length: 8 }, (_, i) => store.acquire(lane, `holder-${i}`, 5000)));
    expect(grants.filter((g) => g !== undefined)).toHaveLength(1);
  });

  it('saves a checkpoint only under the epoch holding the lease', async () => {
    const lane = uniqueName('lease-fence');
    const old = await store.acquire(lane, 'old', 1000);
    expect(await store.saveCheckpoint(lane, 'old', old!.epoch, { transactionId: 10n, globalPosition: 100n })).toBe(true);
    await sleep(1100);
    const next = await store.acquire(lane, 'new', 5000);
    expect(await store.saveCheckpoint(lane, 'new', next!.epoch, { transactionId: 20n, globalPosition: 200n })).toBe(true);
    // The stale leader, still thinking it leads, writes nothing.
    expect(await store.saveCheckpoint(lane, 'old', old!.epoch, { transactionId: 11n, globalPosition: 110n })).toBe(false);
    expect(await loadCheckpoint(db, lane)).toEqual({ transactionId: 20n, globalPosition: 200n });
  });

  it('a holder whose lease expired saves nothing, even before anyone took the lane', async () => {
    const lane = uniqueName('lease-lock');
    const old = await store.acquire(lane, 'old', 200);
    await sleep(250);
    expect(await store.saveCheckpoint(lane, 'old', old!.epoch, { transactionId: 1n, globalPosition: 1n })).toBe(false);
    expect(await loadCheckpoint(db, lane)).toEqual({ transactionId: 0n, globalPosition: 0n });
  });

  it('a released lease is taken at once', async () => {
    const lane = uniqueName('lease-release');
    const grant = await store.acquire(lane, 'a', 60_000);
    await store.release(lane, 'a', grant!.epoch);
    expect((await store.acquire(lane, 'b', 60_000))?.epoch).toBe(2n);
  });

  it('RelayLeadership: one of two instances leads; the other takes over after the leader stops renewing, within TTL + interval', async () => {
    const lane = uniqueName('leadership');
    const options = { db, lanes: [lane], ttlMs: 2000, renewIntervalMs: 200, logger: testLogger('leadership') };
    const a = new RelayLeadership({ ...options, instanceId: 'a' });
    const b = new RelayLeadership({ ...options, instanceId: 'b' });
    await a.start();
    await b.start();
    try {
      expect(a.leads(lane)).toBe(true);
      expect(b.leads(lane)).toBe(false);
      await sleep(2500);
      // Renewals keep the lease with its holder.
      expect(a.leads(lane)).toBe(true);
      expect(b.leads(lane)).toBe(false);
      expect(a.status()).toEqual([{ lane, leading: true, epoch: '1', acquisitions: 1, losses: 0 }]);

      // A stops renewing; its lease is put back as a dead leader leaves it (unreleased, a full TTL to
      // run): B leads once it expired.
      await a.stop();
      await db('relay_leases').where({ lane }).update({ expires_at: db.raw("now() + interval '2 seconds'") });
      const diedAt = Date.now();
      await waitFor('b to lead', async () => b.leads(lane), (leads) => leads, 5000);
      const takeoverMs = Date.now() - diedAt;
      expect(takeoverMs).toBeGreaterThanOrEqual(1900);
      expect(takeoverMs).toBeLessThan(2000 + 200 + 1000);
      expect(b.epochOf(lane)).toBe(2n);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
