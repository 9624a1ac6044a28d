import { randomUUID } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import { connectRabbitMq } from '../../../infra';
import { requireService } from '../../support/stack';

describe('RabbitMQ (real server)', () => {
  let connection: ChannelModel;

  beforeAll(async () => {
    requireService('rabbitmq');
    connection = await connectRabbitMq('smoke-test');
  });
  afterAll(() => connection?.close());

  it('confirms a persistent publish and delivers it to a consumer', async () => {
    const channel = await connection.createConfirmChannel();
    const queue = `smoke-${randomUUID()}`;
    await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const body = Buffer.from(JSON.stringify({ hello: 'rabbit' }));
    const messageId = randomUUID();

    await new Promise<void>((resolve, reject) =>
      channel.sendToQueue(queue, body, { persistent: true, messageId }, (err) => (err ? reject(err) : resolve())),
    );

    const received = await new Promise<{ id: unknown; body: string }>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (!msg) return;
        channel.ack(msg);
        resolve({ id: msg.properties.messageId, body: msg.content.toString() });
      });
    });
    expect(received).toEqual({ id: messageId, body: '{"hello":"rabbit"}' });
    await channel.deleteQueue(queue);
    await channel.close();
  });
});
