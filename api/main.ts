/**
 * The HTTP API process. SIGTERM/SIGINT: stop taking requests, finish those in flight, close
 * connections.
 */
import { config } from '../config';
import { connectTemporalClient, createKafka, createKnex, createLogger } from '../infra';
import { createOrderEventStore } from '../composition/store';
import { buildApi } from './server';
import { readinessChecks } from './readiness';
import { pruneIdempotencyKeys } from './idempotency';
import { hoursToMs, startPeriodicPruning } from '../infra/retention';
import { startTracing } from '../infra/tracing';

async function main(): Promise<void> {
  const env = config();
  const tracing = startTracing('orders-api');
  const logger = createLogger('api');
  const db = createKnex({ applicationName: 'api', poolMax: 20 });
  const temporal = await connectTemporalClient();
  const kafkaAdmin = createKafka('api').admin();
  await kafkaAdmin.connect().catch((err: unknown) => logger.warn({ err }, 'Kafka not reachable yet; /health/ready will say so'));
  const store = createOrderEventStore(db);
  const app = await buildApi({ db, temporal, store, readiness: readinessChecks({ db, temporal, kafkaAdmin }) });
  await app.listen({ host: env.API_HOST, port: env.API_PORT });
  // The API owns idempotency_keys (nothing else reads or writes them), so it prunes them; several API
  // instances pruning at once skip each other's rows (infra/retention.ts).
  const olderThanMs = hoursToMs(env.IDEMPOTENCY_KEYS_RETENTION_HOURS);
  const pruning = startPeriodicPruning({
    name: 'idempotency_keys',
    prune: (batchSize) => pruneIdempotencyKeys(db, { olderThanMs, batchSize }),
    intervalMs: env.PRUNE_INTERVAL_MS,
    logger,
  });

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'api stopping');
    await app.close();
    await pruning.stop();
    await Promise.allSettled([kafkaAdmin.disconnect(), temporal.connection.close(), db.destroy()]);
    await tracing?.shutdown();
    logger.info('api stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

// Run as a process; imported (the module-graph test), it does nothing.
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
