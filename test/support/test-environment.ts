/**
 * Puts the integration tests into the test environment (stack/environments.ts: database orders_test,
 * vhost and namespace orders-test, Kafka prefix `orders-test.`), so that `npm test` beside `npm start`
 * neither feeds nor steals from the dev system. A variable the caller set is left as it is.
 *
 * jest loads this file twice. As globalSetup it runs in jest's own process before any test file, and
 * sets the real process.env: child processes (workers, scripts, the temporal CLI) get that one from
 * node, not a test file's copy. As a setupFile it runs in each test file's sandbox, whose process.env
 * is such a copy, before any module reads the configuration.
 */
import { parseConfig } from '../../config';
import { missingTestVariables } from '../../stack/environments';

export function enterTestEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  Object.assign(env, missingTestVariables(env, parseConfig(env)));
  // Tests append events directly, with no workflow to publish them: the relay should not wait for one.
  // (The chaos test, which runs the real workflows, sets the production default back.)
  env.RELAY_FAST_PATH_GRACE_MS ??= '0';
  // No tracing in tests (nor in the processes they start) unless a test turns it on for its processes.
  env.OTEL_SDK_DISABLED ??= 'true';
}

enterTestEnvironment();

// jest calls a globalSetup with its configs: they are not an environment.
export default function globalSetup(): void {
  enterTestEnvironment();
}
