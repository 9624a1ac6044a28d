export { createKnex, createPgClient } from './postgres';
export { createKafka, createIdempotentProducer } from './kafka';
export { connectRabbitMq } from './rabbitmq';
export { connectTemporalClient, temporalClient, temporalConnectionOptions, temporalDataConverter } from './temporal';
export { createLogger } from './logger';
