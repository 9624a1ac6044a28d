/**
 * A Temporal worker process for one task queue: `orders` (the order workflow and its event
 * activities) by default, or a saga service given as the first argument
 * (inventory | payments | shipping | notifications). SIGTERM/SIGINT drain it gracefully.
 */
import { createKnex, createLogger } from '../infra';
import { installTemporalLogging } from '../infra/temporal-logging';
import { WORKER_ROLES, connectWorkerConnection, createWorker, type WorkerRole } from './temporal-workers';

async function main(): Promise<void> {
  const role = (process.argv[2] ?? 'orders') as WorkerRole;
  if (!WORKER_ROLES.includes(role)) {
    throw new Error(`Unknown worker role "${role}": use one of ${WORKER_ROLES.join(', ')}`);
  }
  const logger = createLogger(`worker-${role}`);
  installTemporalLogging(logger);
  const db = createKnex({ applicationName: `worker-${role}` });
  const connection = await connectWorkerConnection();
  const { worker, dispose } = await createWorker(role, { db, connection, logger });
  logger.info({ taskQueue: worker.options.taskQueue }, 'worker started');
  // The SDK's runtime turns SIGINT/SIGTERM into a graceful shutdown; run() resolves once drained.
  await worker.run();
  await dispose();
  await connection.close();
  await db.destroy();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
