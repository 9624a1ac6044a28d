export { createKnex } from './postgres';
export { createKafka } from './kafka';
export { connectRabbitMq } from './rabbitmq';
export { connectTemporalClient, temporalConnectionOptions } from './temporal';
export { createLogger } from './logger';
