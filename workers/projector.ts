/**
 * A projector process: consumes order events from a broker and applies them to read models.
 *   order      RabbitMQ queue `order-projector` bound to `Order.#`  ->  customer_orders, order_view
 *   analytics  Kafka group `analytics-projector` on order-events    ->  daily_sales, product_metrics
 *              (the topic and the group name take KAFKA_TOPIC_PREFIX)
 * Each event is applied at most once (the consumer's dedup record and the read model's per-order
 * version commit in one transaction), in per-order version order (a missing earlier event is fetched
 * from the event store). It serves /health/live, /health/ready and /metrics on
 * PROJECTOR_<KIND>_METRICS_PORT. SIGTERM/SIGINT stop it after the batch in hand.
 *
 * Deliveries are applied in batches, one transaction per batch (PROJECTOR_BATCH_SIZE, default 100;
 * RabbitMQ also waits PROJECTOR_BATCH_LINGER_MS for a batch to fill, and acks it with one multiple ack
 * after the commit; Kafka batches per partition): the batch's dedup records and all its events, handed to
 * the runner in one call per projection, commit together. A batch that fails is redone one delivery per
 * transaction, so a failing event is retried and parked alone. PROJECTOR_BATCH_SIZE=1 is one
 * transaction per delivered event.
 */
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import { config, type Env } from '../config';
import { createOrderEventStore } from '../composition/store';
import { createKnex, createLogger } from '../infra';
import { startObservabilityServer, type ObservabilityServer } from '../infra/observability';
import { hoursToMs, startPeriodicPruning, type PeriodicPruning } from '../infra/retention';
import type { BatchEventHandler, EventHandler } from '../messaging/handler';
import { KafkaEventConsumer } from '../messaging/kafka/kafka-consumer';
import { pruneProcessedMessages } from '../messaging/idempotent-consumer';
import { kafkaGroupId } from '../messaging/kafka/kafka-topics';
import { RabbitMqConsumer } from '../messaging/rabbitmq/rabbitmq-consumer';
import { ProjectionRunner, type ApplyResult, type ProjectionName } from '../projections';
import type { DeliveredEvent } from '../projections/engine/types';
import { projectorMetrics } from '../projections/engine/metrics';
import { tracedApply } from '../projections/engine/tracing';
import { startTracing } from '../infra/tracing';

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

/**
 * A projector's consumer handlers: a delivery, or a batch of them, applied to each of its projections in
 * the consumer's transaction (in name order, the order a rebuild takes their locks in). `applied` is
 * called once the transaction committed.
 */
export function projectorHandlers(
  runner: ProjectionRunner,
  projections: readonly ProjectionName[],
  applied?: (name: ProjectionName, result: ApplyResult) => void,
  consumerName = projections.join('+'),
): { handler: EventHandler; batchHandler: BatchEventHandler } {
  const apply = (trx: Knex.Transaction, events: readonly DeliveredEvent[]): Promise<void> =>
    tracedApply(consumerName, events, async () => {
      const results: [ProjectionName, ApplyResult][] = [];
      for (const name of [...projections].sort()) results.push([name, await runner.applyInTransaction(trx, name, events)]);
      // Counted once committed: a rolled-back attempt applied nothing, and its retry counts again.
      trx.executionPromise.then(
        () => results.forEach(([name, result]) => applied?.(name, result)),
        () => undefined,
      );
    });
  return {
    handler: (envelope, { trx }) => apply(trx, [envelope]),
    batchHandler: (deliveries, { trx }) => apply(trx, deliveries.map((d) => d.envelope)),
  };
}

async function main(): Promise<void> {
  const env = config();
  const kind = (process.argv[2] ?? 'order') as ProjectorKind;
  const spec = PROJECTORS[kind];
  if (!spec) throw new Error(`Unknown projector "${kind}": use ${Object.keys(PROJECTORS).join(' or ')}`);
  const consumerName = projectorConsumerName(kind, env);
  const tracing = startTracing(`orders-${kind}-projector`);
  const schema = env.PROJECTOR_SCHEMA;
  const logger = createLogger(consumerName);
  const db = createKnex({ poolMax: 5, applicationName: consumerName });
  const store = createOrderEventStore(db);
  const runner = new ProjectionRunner({ db, store, schema, logger });
  const registry = new Registry();
  const metrics = projectorMetrics(registry, { db, store, schema, projections: spec.projections, logger });

  const { handler, batchHandler } = projectorHandlers(runner, spec.projections, (name, result) => metrics.applied(name, result), consumerName);
  const batching = { batchSize: env.PROJECTOR_BATCH_SIZE, batchHandler };

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
    await tracing?.shutdown();
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
      ? await RabbitMqConsumer.start({
          consumerName,
          bindingKeys: ['Order.#'],
          db,
          handler,
          ...batching,
          lingerMs: env.PROJECTOR_BATCH_LINGER_MS,
          prefetch: env.PROJECTOR_PREFETCH,
          logger,
          observer: metrics.observer,
        })
      : await KafkaEventConsumer.start({ groupId: consumerName, db, handler, ...batching, logger, observer: metrics.observer });
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
