/**
 * A fix for kafkajs 2.2.4 (its last release; unmaintained), applied when infra/kafka.ts loads.
 *
 * Each broker connection's RequestQueue re-arms its throttle check with
 * `setTimeout(check, throttledUntil - Date.now())` after every check, also when nothing is queued and
 * nothing throttles it, where `throttledUntil` is -1: a delay of minus the epoch in ms. Node clamps it
 * to 1 ms, so once a request has been queued (an idempotent producer queues whenever one is in flight)
 * the connection polls an empty queue every millisecond until it closes (kafkajs issue #1704), and
 * Node 24 reports the delay as a TimeoutNegativeWarning (kafkajs issue #1751).
 *
 * The check only drains queued requests, and `push` arms it whenever it queues one, so an empty queue
 * needs no timer. This replaces the method with the same scheduling for a non-empty queue (the
 * throttle's remaining time, else kafkajs's 10 ms interval) and none for an empty one.
 * test/unit/infra/kafkajs-request-queue.test.ts pins the kafkajs version it was written for.
 */
import { createRequire } from 'node:module';

/** The kafkajs release whose RequestQueue this replaces a method of. */
export const KAFKAJS_VERSION_FIXED = '2.2.4';
/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (src/network/requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/** The parts of kafkajs's internal RequestQueue that the check scheduling uses. */
export interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS,
  );
}

const requireKafkajs = createRequire(require.resolve('kafkajs'));

/** kafkajs's RequestQueue class (not part of its public API). */
export function requestQueueClass(): new (...args: never[]) => RequestQueueInternals {
  return requireKafkajs('./src/network/requestQueue');
}

/** Installs the fix once; a kafkajs other than {@link KAFKAJS_VERSION_FIXED} is left as it is. */
export function fixKafkajsRequestQueue(): boolean {
  const { version } = requireKafkajs('./package.json') as { version: string };
  if (version !== KAFKAJS_VERSION_FIXED) return false;
  requestQueueClass().prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return true;
}

fixKafkajsRequestQueue();
