import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { createIdempotentProducer, createKafka } from '../../../infra';
import { kafkaTopics } from '../../../messaging/kafka/kafka-topics';
import { requireService } from '../../support/stack';

describe('Kafka (real KRaft broker)', () => {
  const kafka = createKafka('smoke-test');
  let admin: Admin;
  const topic = `smoke-${randomUUID()}`;

  beforeAll(async () => {
    requireService('kafka');
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  });
  afterAll(async () => {
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  it('has the topics the stack provisions, and auto-creation is off', async () => {
    const topics = await admin.listTopics();
    expect(topics).toEqual(expect.arrayContaining(Object.values(kafkaTopics())));
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 4 /* BROKER */, name: '1', configNames: ['auto.create.topics.enable'] }],
    });
    expect(resources[0]?.configEntries[0]?.configValue).toBe('false');
  });

  it('delivers a produced message to a consumer group', async () => {
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'order-1', value: 'hello kafka' }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = await new Promise<{ key?: string; value?: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => resolve({ key: message.key?.toString(), value: message.value?.toString() }),
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ key: 'order-1', value: 'hello kafka' });
  });
});
