import { randomUUID } from 'node:crypto';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { StoredEvent } from '../../../eventstore';
import { connectRabbitMq } from '../../../infra';
import { encodeEvent, parseEnvelope, partitionKeyOf } from '../../../messaging/envelope';
import { MalformedMessageError } from '../../../messaging/errors';
import {
  EVENTS_EXCHANGE,
  UNROUTABLE_EXCHANGE,
  declareConsumerQueue,
  declareEventTopology,
  parkingQueueName,
  retryQueueName,
} from '../../../messaging/rabbitmq/rabbitmq-topology';
import { nextStep, retryPolicy } from '../../../messaging/retry-policy';
import { requireService } from '../../support/stack';
import { uniqueName } from './support';

const storedOrderEvent = (overrides: Partial<StoredEvent> = {}): StoredEvent => ({
  globalPosition: 9_007_199_254_740_993n,
  transactionId: 1234n,
  streamId: 'Order-4b1c7a',
  streamType: 'Order',
  streamVersion: 3,
  eventId: randomUUID(),
  type: 'OrderSubmitted',
  schemaVersion: 1,
  data: { orderId: '4b1c7a', total: { amountMinor: 1250, currency: 'USD' } },
  metadata: { correlationId: 'corr-1', causationId: 'SubmitOrder', traceparent: '00-abc-def-01', actor: 'web' },
  recordedAt: new Date('2026-01-02T03:04:05.678Z'),
  ...overrides,
});

describe('event envelope', () => {
  it('carries the whole event in the body and routing facts in headers', () => {
    const event = storedOrderEvent();
    const encoded = encodeEvent(event);
    expect(JSON.parse(encoded.body.toString())).toEqual({
      eventId: event.eventId,
      type: 'OrderSubmitted',
      schemaVersion: 1,
      streamId: 'Order-4b1c7a',
      streamType: 'Order',
      streamVersion: 3,
      // Above 2^53: kept exact as a string.
      globalPosition: '9007199254740993',
      data: event.data,
      metadata: event.metadata,
      recordedAt: '2026-01-02T03:04:05.678Z',
    });
    expect(encoded.headers).toEqual({
      'message-id': event.eventId,
      type: 'OrderSubmitted',
      'schema-version': '1',
      'correlation-id': 'corr-1',
      'causation-id': 'SubmitOrder',
      traceparent: '00-abc-def-01',
      'stream-id': 'Order-4b1c7a',
      'stream-version': '3',
    });
    expect(encoded.routingKey).toBe('Order.OrderSubmitted');
    expect(encoded.partitionKey).toBe('4b1c7a');
    expect(parseEnvelope(encoded.body)).toEqual(encoded.envelope);
  });

  it('keys other stream types by their whole stream id and leaves out missing metadata', () => {
    const encoded = encodeEvent(storedOrderEvent({ streamId: 'Thing-1', streamType: 'Thing', type: 'ThingHappened', metadata: {} }));
    expect(encoded.routingKey).toBe('Thing.ThingHappened');
    expect(encoded.partitionKey).toBe('Thing-1');
    expect(encoded.headers).not.toHaveProperty('correlation-id');
    expect(partitionKeyOf('Order', 'Legacy42')).toBe('Legacy42');
  });

  it('rejects bodies that are not envelopes as malformed', () => {
    expect(() => parseEnvelope(Buffer.from('not json'))).toThrow(MalformedMessageError);
    expect(() => parseEnvelope(Buffer.from('{"eventId":"x"}'))).toThrow(MalformedMessageError);
    expect(() => parseEnvelope(undefined)).toThrow(MalformedMessageError);
  });
});

describe('retry policy', () => {
  it('retries after each delay in turn, then parks', () => {
    const policy = retryPolicy({ retryDelaysMs: [1000, 10_000, 60_000] });
    expect(policy.maxAttempts).toBe(4);
    expect([1, 2, 3, 4].map((n) => nextStep(policy, n))).toEqual([
      { action: 'retry', delayMs: 1000 },
      { action: 'retry', delayMs: 10_000 },
      { action: 'retry', delayMs: 60_000 },
      { action: 'park' },
    ]);
  });

  it('repeats the last delay when more attempts than delays are allowed', () => {
    const policy = retryPolicy({ retryDelaysMs: [200], maxAttempts: 3 });
    expect([1, 2, 3].map((n) => nextStep(policy, n))).toEqual([{ action: 'retry', delayMs: 200 }, { action: 'retry', delayMs: 200 }, { action: 'park' }]);
    expect(() => retryPolicy({ retryDelaysMs: [0] })).toThrow(RangeError);
  });
});

describe('RabbitMQ topology (real broker)', () => {
  let connection: ChannelModel;
  let channel: ConfirmChannel;
  const consumer = uniqueName('test-topology');

  beforeAll(async () => {
    requireService('rabbitmq');
    connection = await connectRabbitMq('test-topology');
    channel = await connection.createConfirmChannel();
  });
  afterAll(async () => {
    for (const queue of [consumer, parkingQueueName(consumer), retryQueueName(consumer, 200), retryQueueName(consumer, 400)]) {
      await channel?.deleteQueue(queue).catch(() => undefined);
    }
    await connection?.close();
  });

  it('declares the exchanges and a consumer queue idempotently (twice, same result)', async () => {
    await declareEventTopology(channel);
    await declareEventTopology(channel);
    const options = { retryDelaysMs: [200, 400], maxAttempts: 3 };
    const first = await declareConsumerQueue(channel, consumer, ['Order.#', 'Thing.ThingHappened'], options);
    const second = await declareConsumerQueue(channel, consumer, ['Order.#', 'Thing.ThingHappened'], options);
    expect(second).toEqual(first);
    expect([...first.retryQueues.values()]).toEqual([`${consumer}.retry.200`, `${consumer}.retry.400`]);

    for (const queue of [consumer, `${consumer}.dlq`, `${consumer}.retry.200`, `${consumer}.retry.400`]) {
      await expect(channel.checkQueue(queue)).resolves.toMatchObject({ queue });
    }
    await expect(channel.checkExchange(EVENTS_EXCHANGE)).resolves.toBeDefined();
    await expect(channel.checkExchange(UNROUTABLE_EXCHANGE)).resolves.toBeDefined();
  });

  it('routes a retry queue back to the work queue when its TTL expires', async () => {
    const { retryQueues, workQueue } = await declareConsumerQueue(channel, consumer, ['Order.#'], { retryDelaysMs: [200, 400], maxAttempts: 3 });
    const retryQueue = retryQueues.get(200)!;
    const messageId = randomUUID();
    const started = Date.now();
    channel.sendToQueue(retryQueue, Buffer.from('{}'), { persistent: true, messageId });
    await channel.waitForConfirms();
    const arrived = await new Promise<string>((resolve) => {
      const poll = async (): Promise<void> => {
        const message = await channel.get(workQueue, { noAck: true });
        if (message) resolve(String(message.properties.messageId));
        else setTimeout(() => void poll(), 50);
      };
      void poll();
    });
    expect(arrived).toBe(messageId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });
});
