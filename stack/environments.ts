/**
 * The environments that share the stack's servers: the dev system (`npm start`, the configuration's
 * defaults) and the test suite's, whose names stack/stack.env holds. Both live side by side: a
 * database, a RabbitMQ virtual host, a Temporal namespace and a Kafka topic prefix each.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Env } from '../config';

/** The variables that move a process from one environment to another; everything else is shared. */
export const ENVIRONMENT_VARIABLES = ['DATABASE_URL', 'RABBITMQ_URL', 'TEMPORAL_NAMESPACE', 'KAFKA_TOPIC_PREFIX'] as const;
export type EnvironmentVariables = Record<(typeof ENVIRONMENT_VARIABLES)[number], string>;

/** stack/stack.env as the shell sees it (KEY=value or KEY="value" lines). */
export function readStackEnv(): Record<string, string> {
  const text = readFileSync(path.join(__dirname, 'stack.env'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z_][A-Z0-9_]*)=("?)(.*)\2$/gm)].map((m) => [m[1]!, m[3]!]));
}

function required(values: Record<string, string>, name: string): string {
  const value = values[name];
  if (!value) throw new Error(`stack/stack.env has no ${name}`);
  return value;
}

/** The test environment on the servers that `base` points at: only the names differ. */
export function testEnvironment(base: Env, stackEnv: Record<string, string> = readStackEnv()): EnvironmentVariables {
  const database = new URL(base.DATABASE_URL);
  database.pathname = `/${required(stackEnv, 'TEST_POSTGRES_DB')}`;
  const rabbit = new URL(base.RABBITMQ_URL);
  rabbit.pathname = `/${encodeURIComponent(required(stackEnv, 'TEST_RABBITMQ_VHOST'))}`;
  return {
    DATABASE_URL: database.toString(),
    RABBITMQ_URL: rabbit.toString(),
    TEMPORAL_NAMESPACE: required(stackEnv, 'TEST_TEMPORAL_NAMESPACE'),
    KAFKA_TOPIC_PREFIX: required(stackEnv, 'TEST_KAFKA_TOPIC_PREFIX'),
  };
}

/** The variables `env` lacks to be in the test environment; one the caller set stays as it is. */
export function missingTestVariables(env: NodeJS.ProcessEnv, base: Env): Partial<EnvironmentVariables> {
  return Object.fromEntries(Object.entries(testEnvironment(base)).filter(([name]) => !env[name]));
}
