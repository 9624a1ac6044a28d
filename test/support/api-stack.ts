import type { Knex } from 'knex';
import type { Client as PgClient } from 'pg';
import { PostgresEventStore, listenForAppends, saveCheckpoint, type Subscription } from '../../eventstore';
import { createPgClient } from '../../infra';
import { ProjectionRunner, startSubscriptionProjector, PROJECTION_NAMES } from '../../projections';
import { orderRegistry } from '../../domain';
import { openTestDatabase } from './postgres';
import { runWorkers, type RunningWorkers } from './temporal';
import { makeCatalog } from './saga-fixtures';
import { customerToken, operatorToken, startApi, type RunningApi } from './api';

export interface ApiStack {
  db: Knex;
  workers: RunningWorkers;
  api: RunningApi;
  catalog: Awaited<ReturnType<typeof makeCatalog>>;
  tokens: { operator: string; alice: string; bob: string };
  stop(): Promise<void>;
}

/**
 * The API over the real stack: workers, the read models' projectors (from the head of the log, so
 * that a run reads only its own orders) and an API key per role.
 */
export async function startApiStack(stock = 50): Promise<ApiStack> {
  const db = await openTestDatabase();
  const workers = await runWorkers(db);
  const catalog = await makeCatalog(db, stock);
  const store = new PostgresEventStore(db, orderRegistry(), { notifyAppends: false });
  const listener: PgClient = await listenForAppends(createPgClient('api-stack-listener'));
  const runner = new ProjectionRunner({ db, store });
  const head = await store.headCheckpoint();
  const projectors: Subscription[] = [];
  for (const name of PROJECTION_NAMES) {
    await saveCheckpoint(db, `projection:public.${name}`, head);
    projectors.push(await startSubscriptionProjector(name, { db, store, runner, listener, maxPollIntervalMs: 200 }));
  }
  const api = await startApi(db, workers.client);
  const tokens = {
    operator: await operatorToken(db),
    alice: await customerToken(db, catalog.customers.good),
    bob: await customerToken(db, catalog.customers.declines),
  };
  return {
    db,
    workers,
    api,
    catalog,
    tokens,
    async stop() {
      await api.close();
      for (const p of projectors) await p.stop();
      await listener.end();
      await workers.stop();
      await db.destroy();
    },
  };
}
