/**
 * An HTTP client that behaves like a well-written caller of our API during an incident: it retries
 * what may succeed later (connection refused or reset while the API restarts, 5xx, 429) with backoff,
 * and sends an Idempotency-Key so that a retried command has one effect. Other answers are returned.
 * Given several API instances it spreads the calls over them in turn, as a load balancer would, and
 * sends a retry to the next instance.
 */
export interface ApiAnswer<T> {
  status: number;
  body: T;
}

export interface CallOptions {
  body?: unknown;
  idempotencyKey?: string;
}

const RETRYABLE_STATUS = (status: number): boolean => status >= 500 || status === 429;

export class ResilientApiClient {
  /** Requests retried because the API was unreachable or answered 5xx/429. */
  retries = 0;

  private readonly baseUrls: readonly string[];
  private next = 0;

  constructor(
    baseUrls: string | readonly string[],
    private readonly retryForMs = 120_000,
  ) {
    this.baseUrls = typeof baseUrls === 'string' ? [baseUrls] : baseUrls;
    if (this.baseUrls.length === 0) throw new RangeError('at least one API instance is needed');
  }

  async call<T = Record<string, unknown>>(token: string, method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const deadline = Date.now() + this.retryForMs;
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const baseUrl = this.baseUrls[this.next++ % this.baseUrls.length]!;
        const response = await fetch(`${baseUrl}${path}`, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(35_000),
        });
        const text = await response.text();
        if (!RETRYABLE_STATUS(response.status)) return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
        lastProblem = `${response.status} ${text.slice(0, 200)}`;
      } catch (err) {
        lastProblem = (err as Error).cause ? String((err as Error).cause) : (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`${method} ${path} kept failing for ${this.retryForMs} ms; last: ${lastProblem}`);
      this.retries++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
    }
  }

  /** A call that must answer one of the expected statuses. */
  async expect<T = Record<string, unknown>>(
    expected: readonly number[],
    token: string,
    method: string,
    path: string,
    options: CallOptions = {},
  ): Promise<ApiAnswer<T>> {
    const answer = await this.call<T>(token, method, path, options);
    if (!expected.includes(answer.status)) {
      throw new Error(`${method} ${path} answered ${answer.status} (expected ${expected.join('/')}): ${JSON.stringify(answer.body)}`);
    }
    return answer;
  }
}
