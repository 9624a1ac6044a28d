/**
 * How often, and after which pauses, a consumer tries a message before parking it in its DLQ. Both
 * brokers' consumers share it, so a handler behaves the same whichever broker feeds it.
 */
export interface RetryPolicy {
  /** The pause before the 2nd, 3rd... attempt; the last one repeats when maxAttempts asks for more. */
  readonly retryDelaysMs: readonly number[];
  /** Handler invocations in all, the first included. */
  readonly maxAttempts: number;
}

export type NextStep = { action: 'retry'; delayMs: number } | { action: 'park' };

export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [1000, 10_000, 60_000];

export function retryPolicy(options: { retryDelaysMs?: readonly number[]; maxAttempts?: number } = {}): RetryPolicy {
  const retryDelaysMs = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const maxAttempts = options.maxAttempts ?? retryDelaysMs.length + 1;
  if (retryDelaysMs.length === 0 && maxAttempts > 1) throw new RangeError('retryDelaysMs is empty but maxAttempts > 1');
  for (const delay of retryDelaysMs) {
    if (!Number.isSafeInteger(delay) || delay < 1) throw new RangeError(`retry delay ${delay} must be a positive integer (ms)`);
  }
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('maxAttempts must be a positive integer');
  return { retryDelaysMs: [...retryDelaysMs], maxAttempts };
}

/** The delays a policy can actually use: one retry queue is declared per distinct value. */
export function usedDelays(policy: RetryPolicy): number[] {
  const used = policy.retryDelaysMs.slice(0, Math.max(0, policy.maxAttempts - 1));
  return [...new Set(used)];
}

/** What to do after the `failedAttempts`-th failure (1 after the first). */
export function nextStep(policy: RetryPolicy, failedAttempts: number): NextStep {
  if (failedAttempts >= policy.maxAttempts) return { action: 'park' };
  const delays = policy.retryDelaysMs;
  const delayMs = delays[Math.min(failedAttempts - 1, delays.length - 1)];
  return delayMs === undefined ? { action: 'park' } : { action: 'retry', delayMs };
}
