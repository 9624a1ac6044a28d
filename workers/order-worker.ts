/**
 * A Temporal worker process for one task queue: `orders` (the order workflow and its event
 * activities) by default, or a saga service given as the first argument
 * (inventory | payments | shipping | notifications). SIGTERM/SIGINT drain it gracefully.
 */
import { config } from '../config';
import { createKnex, createLogger } from '../infra';
import { startTracing } from '../infra/tracing';
import { installTemporalLogging } from '../infra/temporal-logging';
import { WORKER_ROLES, connectWorkerConnection, createWorker, type WorkerRole } from './temporal-workers';

async function main(): Promise<void> {
  const role = (process.argv[2] ?? 'orders') as WorkerRole;
  if (!WORKER_ROLES.includes(role)) {
    throw new Error(`Unknown worker role "${role}": use one of ${WORKER_ROLES.join(', ')}`);
  }
  const tracing = startTracing(`orders-worker-${role}`);
  const logger = createLogger(`worker-${role}`);
  const env = config();
  const metricsPort = env.WORKER_METRICS_PORT === 0 ? undefined : env.WORKER_METRICS_PORT + WORKER_ROLES.indexOf(role);
  installTemporalLogging(logger, 'INFO', metricsPort === undefined ? undefined : `${env.METRICS_HOST}:${metricsPort}`);
  const db = createKnex({ applicationName: `worker-${role}` });
  const connection = await connectWorkerConnection();
  const { worker, dispose } = await createWorker(role, { db, connection, logger });
  logger.info({ taskQueue: worker.options.taskQueue, temporalMetricsPort: metricsPort }, 'worker started');
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown; run() resolves once drained.
  await worker.run();
  await dispose();
  await connection.close();
  await db.destroy();
  await tracing?.shutdown();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
