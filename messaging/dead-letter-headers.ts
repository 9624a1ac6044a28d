/**
 * Headers that describe why and where a message failed. Consumers add them when they retry or park a
 * message; the DLQ tool reads them and strips them on replay.
 */
export const FAILURE_HEADERS = {
  errorMessage: 'x-error-message',
  errorType: 'x-error-type',
  /** Handler attempts that failed so far: the retry path's attempt counter. */
  failedAttempts: 'x-failed-attempts',
  failedAt: 'x-failed-at',
  consumer: 'x-consumer',
  /** RabbitMQ: the routing key and exchange the event was first published with. */
  originalRoutingKey: 'x-original-routing-key',
  originalExchange: 'x-original-exchange',
  /** Kafka: where the message came from. */
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
  consumerGroup: 'x-consumer-group',
  /** Kafka replay: only this consumer group handles the re-produced message; others skip it. */
  replayFor: 'x-replay-for',
} as const;

const MAX_ERROR_MESSAGE_CHARS = 1000;

export function errorHeaders(err: unknown, failedAttempts: number): Record<string, string> {
  const error = err instanceof Error ? err : new Error(String(err));
  return {
    [FAILURE_HEADERS.errorMessage]: error.message.slice(0, MAX_ERROR_MESSAGE_CHARS),
    [FAILURE_HEADERS.errorType]: error.name,
    [FAILURE_HEADERS.failedAttempts]: String(failedAttempts),
    [FAILURE_HEADERS.failedAt]: new Date().toISOString(),
  };
}

/** Broker bookkeeping that must not travel with a copy of a message (RabbitMQ sets it anew). */
const BROKER_HEADERS = /^x-(death|first-death-.*|last-death-.*|delivery-count)$/;

/** What a replay forgets: the attempt counter and the last failure. The original routing stays. */
const FAILURE_DETAILS = new Set<string>([
  FAILURE_HEADERS.errorMessage,
  FAILURE_HEADERS.errorType,
  FAILURE_HEADERS.failedAttempts,
  FAILURE_HEADERS.failedAt,
  FAILURE_HEADERS.consumer,
  FAILURE_HEADERS.originalTopic,
  FAILURE_HEADERS.originalPartition,
  FAILURE_HEADERS.originalOffset,
  FAILURE_HEADERS.consumerGroup,
  FAILURE_HEADERS.replayFor,
]);

/** A message's headers for a fresh copy: without broker bookkeeping and, when replaying, without failure details. */
export function copyableHeaders<V>(headers: Record<string, V> | undefined, options: { resetFailures?: boolean } = {}): Record<string, V> {
  const kept: Record<string, V> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (BROKER_HEADERS.test(name)) continue;
    if (options.resetFailures && FAILURE_DETAILS.has(name)) continue;
    kept[name] = value;
  }
  return kept;
}
