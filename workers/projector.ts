/**
 * A projector process: consumes order events from a broker and applies them to read models.
 *   order      RabbitMQ queue `order-projector` bound to `Order.#`  ->  customer_orders, order_view
 *   analytics  Kafka group `analytics-projector` on order-events    ->  daily_sales, product_metrics
 *              (the topic and the group name take KAFKA_TOPIC_PREFIX)
 * Each event is applied at most once (the consumer's dedup record and the read model's per-order
 * version commit in one transaction), in per-order version order (a missing earlier event is fetched
 * from the event store). It serves /health/live, /health/ready and /metrics on
 * PROJECTOR_<KIND>_METRICS_PORT. SIGTERM/SIGINT stop it after the message in hand.
 *
 * Writes are one transaction per delivered event, on both brokers. Batching several RabbitMQ deliveries
 * into one transaction would need the consumer to claim, ack and retry them as a group (one failing
 * event must not roll back or park the others), which is more machinery than the saving is worth while
 * the projectors keep up; the runner already batches whatever one call hands it (rebuilds, the
 * subscription projector), so a batching consumer can call it as it is.
 */
import { Registry } from 'prom-client';
import { config, type Env } from '../config';
import { createOrderEventStore } from '../composition/store';
import { createKnex, createLogger } from '../infra';
import { startObservabilityServer, type ObservabilityServer } from '../infra/observability';
import { hoursToMs, startPeriodicPruning, type PeriodicPruning } from '../infra/retention';
import type { EventHandler } from '../messaging/handler';
import { KafkaEventConsumer } from '../messaging/kafka/kafka-consumer';
import { pruneProcessedMessages } from '../messaging/idempotent-consumer';
import { kafkaGroupId } from '../messaging/kafka/kafka-topics';
import { RabbitMqConsumer } from '../messaging/rabbitmq/rabbitmq-consumer';
import { ProjectionRunner, type ApplyResult, type ProjectionName } from '../projections';
import { projectorMetrics } from '../projections/engine/metrics';

export const PROJECTORS = {
  order: { consumer: 'order-projector', projections: ['customer_orders', 'order_view'] },
  analytics: { consumer: 'analytics-projector', projections: ['daily_sales', 'product_metrics'] },
} as const satisfies Record<string, { consumer: string; projections: readonly ProjectionName[] }>;

export type ProjectorKind = keyof typeof PROJECTORS;

/** The queue or consumer group a projector uses in an environment (PROJECTOR_CONSUMER_NAME, else its fixed name). */
export function projectorConsumerName(kind: ProjectorKind, env: Env = config()): string {
  // A Kafka group is cluster-wide, so the fixed name takes the environment's prefix; a queue lives in its vhost.
  return env.PROJECTOR_CONSUMER_NAME ?? (kind === 'analytics' ? kafkaGroupId(PROJECTORS[kind].consumer, env.KAFKA_TOPIC_PREFIX) : PROJECTORS[kind].consumer);
}

async function main(): Promise<void> {
  const env = config();
  const kind = (process.argv[2] ?? 'order') as ProjectorKind;
  const spec = PROJECTORS[kind];
  if (!spec) throw new Error(`Unknown projector "${kind}": use ${Object.keys(PROJECTORS).join(' or ')}`);
  const consumerName = projectorConsumerName(kind, env);
  const schema = env.PROJECTOR_SCHEMA;
  const logger = createLogger(consumerName);
  const db = createKnex({ poolMax: 5, applicationName: consumerName });
  const store = createOrderEventStore(db);
  const runner = new ProjectionRunner({ db, store, schema, logger });
  const registry = new Registry();
  const metrics = projectorMetrics(registry, { db, store, schema, projections: spec.projections, logger });

  // Projections in name order, the order a rebuild takes their locks in.
  const handler: EventHandler = async (envelope, { trx }) => {
    const results: [ProjectionName, ApplyResult][] = [];
    for (const name of spec.projections) results.push([name, await runner.applyInTransaction(trx, name, [envelope])]);
    // Counted once committed: a rolled-back attempt applied nothing, and its retry counts again.
    trx.executionPromise.then(
      () => results.forEach(([name, result]) => metrics.applied(name, result)),
      () => undefined,
    );
  };

  // Stop is installed before anything connects: a stop during start-up closes whatever is open by then.
  const open: { consumer?: RabbitMqConsumer | KafkaEventConsumer; server?: ObservabilityServer; pruning?: PeriodicPruning } = {};
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'projector stopping');
    await open.pruning?.stop();
    await open.consumer?.stop();
    await open.server?.close();
    await db.destroy();
    logger.info('projector stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  // The server comes first: the process is live while it waits for a broker, and not ready until it consumes.
  const server = await startObservabilityServer({
    host: env.METRICS_HOST,
    port: kind === 'order' ? env.PROJECTOR_ORDER_METRICS_PORT : env.PROJECTOR_ANALYTICS_METRICS_PORT,
    registry,
    readiness: {
      postgres: async () => {
        await db.raw('SELECT 1');
      },
      [kind === 'order' ? 'rabbitmq' : 'kafka']: async () => {
        if (!open.consumer?.isConsuming()) throw new Error(`${consumerName} is not consuming`);
      },
    },
  });
  open.server = server;
  open.consumer =
    kind === 'order'
      ? await RabbitMqConsumer.start({ consumerName, bindingKeys: ['Order.#'], db, handler, logger, observer: metrics.observer })
      : await KafkaEventConsumer.start({ groupId: consumerName, db, handler, logger, observer: metrics.observer });
  // Its own claims only: each consumer owns its rows, so two projectors never prune the same ones. A
  // redelivery older than the retention runs the handler again, and the read models skip what they hold.
  const olderThanMs = hoursToMs(env.PROCESSED_MESSAGES_RETENTION_HOURS);
  open.pruning = startPeriodicPruning({
    name: 'processed_messages',
    prune: (batchSize) => pruneProcessedMessages(db, { consumerName, olderThanMs, batchSize }),
    intervalMs: env.PRUNE_INTERVAL_MS,
    logger,
  });
  logger.info({ projections: spec.projections, schema, metricsPort: server.port }, 'projector started');
}

// Run as a process; imported (for PROJECTORS), it does nothing.
if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
