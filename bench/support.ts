import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import knex from 'knex';
import { config } from '../config';
import { createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';

/** A fresh, migrated database beside the app's, so a benchmark measures only its own rows. */
export async function freshBenchDatabase(name: string, poolMax: number): Promise<Knex> {
  const admin = createKnex({ poolMax: 1, applicationName: 'bench-admin' });
  await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.raw(`CREATE DATABASE "${name}"`);
  await admin.destroy();
  const url = new URL(config().DATABASE_URL);
  url.pathname = `/${name}`;
  const db = knex({
    client: 'pg',
    connection: { connectionString: url.toString(), application_name: 'bench' },
    pool: { min: poolMax, max: poolMax },
  });
  await migrateToLatest(db);
  return db;
}

/** Runs `work(i)` for i in [0, total) on `concurrency` workers; returns items per second. */
export async function throughput(total: number, concurrency: number, work: (i: number, worker: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < total; i = next++) await work(i, worker);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

export const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs `one` `total` times with `concurrency` callers; returns items per second and each call's latency (ms, sorted). */
export async function drive(total: number, concurrency: number, one: () => Promise<void>): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        const t = performance.now();
        await one();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { perSecond: total / ((performance.now() - t0) / 1000), latencies: latencies.sort((a, b) => a - b) };
}

/** The figures bench:saga and bench:e2e report for a closed-loop run against the no-op floor's. */
export function versusFloor(ours: { perSecond: number; latencies: number[] }, floor: { perSecond: number; latencies: number[] }) {
  return {
    orders_per_s: round(ours.perSecond),
    floor_per_s: round(floor.perSecond),
    throughput_ratio: round(ours.perSecond / floor.perSecond),
    p50_ms: round(percentile(ours.latencies, 50), 0),
    p95_ms: round(percentile(ours.latencies, 95), 0),
    p99_ms: round(percentile(ours.latencies, 99), 0),
    floor_p95_ms: round(percentile(floor.latencies, 95), 0),
    floor_p99_ms: round(percentile(floor.latencies, 99), 0),
  };
}

/**
 * Says on stderr when the Temporal server is still deleting namespaces, and answers how many (undefined
 * where the system namespace cannot be read, e.g. Temporal Cloud). Each benchmark environment is a
 * namespace deleted at the end, whose executions the server then removes in the background with its own
 * workflows: on the dev server that can run for an hour after a day of benchmarks, and it slows whatever
 * is measured beside it, so a slow run is read as such.
 */
export async function reportServerBacklog(client: Pick<Client, 'workflowService'>): Promise<number | undefined> {
  let deleting: number;
  try {
    const { count } = await client.workflowService.countWorkflowExecutions({
      namespace: 'temporal-system',
      query: "WorkflowType = 'temporal-sys-reclaim-namespace-resources-workflow' AND ExecutionStatus = 'Running'",
    });
    deleting = Number(count ?? 0);
  } catch {
    return undefined;
  }
  if (deleting > 0) {
    console.error(`note: the Temporal server is still deleting ${deleting} namespace(s) of earlier runs in the background; figures will be lower than on an idle server`);
  }
  return deleting;
}
