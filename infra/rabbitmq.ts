import amqp, { type ChannelModel } from 'amqplib';
import { config } from '../config';

/** The one way to connect to RabbitMQ. */
export async function connectRabbitMq(connectionName: string): Promise<ChannelModel> {
  return amqp.connect(config().RABBITMQ_URL, { clientProperties: { connection_name: connectionName } });
}
