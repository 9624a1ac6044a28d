export { createKnex, createPgClient } from './postgres';
export { createKafka, createIdempotentProducer } from './kafka';
export { connectRabbitMq } from './rabbitmq';
export { connectTemporalClient, temporalConnectionOptions } from './temporal';
export { createLogger } from './logger';
