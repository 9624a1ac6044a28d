/**
 * What the analytics projector process tests share: a database of their own with the read models,
 * the event store on it, Kafka topics under a prefix of their own with a publisher, and the environment
 * that puts a projector process there. Registers its own beforeAll/afterAll; `beforeTeardown` runs
 * first in afterAll (stop the processes before their database goes).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { freshBenchDatabase } from '../../bench/support';
import { config } from '../../config';
import { ORDER_EVENT_DEFINITIONS } from '../../domain';
import { EventRegistry, PostgresEventStore } from '../../eventstore';
import { createKafka, createKnex } from '../../infra';
import { KafkaPublisher } from '../../messaging/kafka/kafka-publisher';
import { kafkaGroupId, kafkaTopicConfigs, kafkaTopics } from '../../messaging/kafka/kafka-topics';
import { testLogger } from '../integration/messaging/support';
import { requireService } from './stack';

export interface AnalyticsProjectorWorld {
  /** Unique to this test file's run: for order ids. */
  readonly tag: string;
  readonly database: string;
  readonly prefix: string;
  /** The analytics projector's consumer group under the prefix. */
  readonly consumer: string;
  readonly kafka: ReturnType<typeof createKafka>;
  db: Knex;
  store: PostgresEventStore;
  publisher: KafkaPublisher;
  env: NodeJS.ProcessEnv;
}

export function useAnalyticsProjectorWorld(name: string, options: { beforeTeardown?: () => Promise<void> } = {}): AnalyticsProjectorWorld {
  const tag = randomUUID().slice(0, 8);
  const database = `orders_test_analytics_${name}_${tag}`;
  const prefix = `test-analytics-${name}-${tag}.`;
  const world = {
    tag,
    database,
    prefix,
    consumer: kafkaGroupId('analytics-projector', prefix),
    kafka: createKafka(`test-analytics-${name}`),
  } as AnalyticsProjectorWorld;

  beforeAll(async () => {
    requireService('postgres');
    requireService('kafka');
    world.db = await freshBenchDatabase(database, 6);
    world.store = new PostgresEventStore(world.db, new EventRegistry(ORDER_EVENT_DEFINITIONS));
    const admin = world.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: kafkaTopicConfigs(prefix), waitForLeaders: true });
    await admin.disconnect();
    world.publisher = new KafkaPublisher({ topic: kafkaTopics(prefix).orderEvents, logger: testLogger(`analytics-${name}`) });
    const databaseUrl = new URL(config().DATABASE_URL);
    databaseUrl.pathname = `/${database}`;
    world.env = {
      ...process.env,
      DATABASE_URL: databaseUrl.toString(),
      KAFKA_TOPIC_PREFIX: prefix,
      PROJECTOR_ANALYTICS_METRICS_PORT: '0',
      PROJECTOR_BATCH_SIZE: '20',
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    await options.beforeTeardown?.();
    await world.publisher?.close();
    const admin = world.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([world.consumer]).catch(() => undefined);
    await admin.deleteTopics({ topics: kafkaTopicConfigs(prefix).map((t) => t.topic) }).catch(() => undefined);
    await admin.disconnect();
    await world.db?.destroy();
    const dbAdmin = createKnex({ poolMax: 1, applicationName: 'jest-admin' });
    await dbAdmin.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await dbAdmin.destroy();
  });

  return world;
}

/** A table's rows as JSON, in a stable order, for comparing with a rebuild. */
export async function rowsOf(db: Knex, table: string): Promise<unknown[]> {
  const { rows } = await db.raw<{ rows: { row: Record<string, unknown> }[] }>(`SELECT to_jsonb(t) AS row FROM ${table} t`);
  return rows.map((r) => r.row).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}
