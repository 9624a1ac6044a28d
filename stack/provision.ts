/**
 * What the running servers need from us before the app starts: Kafka topics and the database schema.
 * Run by stack/up.sh after every service is healthy; idempotent.
 */
import { createIdempotentProducer, createKafka, createKnex } from '../infra';
import { migrateToLatest } from '../infra/migrate';
import { KAFKA_TOPIC_CONFIGS } from '../messaging/kafka-topics';

async function createTopics(): Promise<void> {
  const admin = createKafka('provision').admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = KAFKA_TOPIC_CONFIGS.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
      console.error(`[stack] created Kafka topics: ${missing.map((t) => t.topic).join(', ')}`);
    }
    // Warm the group and transaction coordinators (their internal topics are created on first use),
    // so the stack counts as up only when consumer groups and idempotent producers work.
    await admin.describeGroups(['provision-warmup']);
  } finally {
    await admin.disconnect();
  }
  const producer = createIdempotentProducer(createKafka('provision'));
  await producer.connect();
  await producer.disconnect();
}

async function migrate(): Promise<void> {
  const db = createKnex({ poolMax: 2, applicationName: 'provision' });
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) console.error(`[stack] applied migrations: ${applied.join(', ')}`);
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<void> {
  await Promise.all([createTopics(), migrate()]);
}

main().catch((err: unknown) => {
  console.error('[stack] provisioning failed:', err);
  process.exit(1);
});
