/**
 * A projector process: consumes order events from a broker and applies them to read models.
 *   order      RabbitMQ queue `order-projector` bound to `Order.#`  ->  customer_orders, order_view
 *   analytics  Kafka group `analytics-projector` on order-events    ->  daily_sales, product_metrics
 * Each event is applied at most once (the consumer's dedup record and the read model's per-order
 * version commit in one transaction), in per-order version order (a missing earlier event is fetched
 * from the event store). SIGTERM/SIGINT stop it after the message in hand.
 */
import { EventRegistry, PostgresEventStore } from '../eventstore';
import { ORDER_EVENT_DEFINITIONS } from '../domain/order/events';
import { createKnex, createLogger } from '../infra';
import type { EventHandler } from '../messaging/handler';
import { KafkaEventConsumer } from '../messaging/kafka-consumer';
import { RabbitMqConsumer } from '../messaging/rabbitmq-consumer';
import { ProjectionRunner, type ProjectionName } from '../projections';

export const PROJECTORS = {
  order: { consumer: 'order-projector', projections: ['customer_orders', 'order_view'] },
  analytics: { consumer: 'analytics-projector', projections: ['daily_sales', 'product_metrics'] },
} as const satisfies Record<string, { consumer: string; projections: readonly ProjectionName[] }>;

export type ProjectorKind = keyof typeof PROJECTORS;

async function main(): Promise<void> {
  const kind = (process.argv[2] ?? 'order') as ProjectorKind;
  const spec = PROJECTORS[kind];
  if (!spec) throw new Error(`Unknown projector "${kind}": use ${Object.keys(PROJECTORS).join(' or ')}`);
  const logger = createLogger(spec.consumer);
  const db = createKnex({ poolMax: 5, applicationName: spec.consumer });
  const store = new PostgresEventStore(db, new EventRegistry(ORDER_EVENT_DEFINITIONS), { notifyAppends: false });
  const runner = new ProjectionRunner({ db, store, logger });

  // Projections in name order, the order a rebuild takes their locks in.
  const handler: EventHandler = async (envelope, { trx }) => {
    for (const name of spec.projections) await runner.applyInTransaction(trx, name, [envelope]);
  };

  const consumer =
    kind === 'order'
      ? await RabbitMqConsumer.start({ consumerName: spec.consumer, bindingKeys: ['Order.#'], db, handler, logger })
      : await KafkaEventConsumer.start({ groupId: spec.consumer, db, handler, logger });
  logger.info({ projections: spec.projections }, 'projector started');

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'projector stopping');
    await consumer.stop();
    await db.destroy();
    logger.info('projector stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
