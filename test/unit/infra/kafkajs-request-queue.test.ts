import { readFileSync } from 'node:fs';
import { KAFKAJS_VERSION_FIXED, fixKafkajsRequestQueue, requestQueueClass, type RequestQueueInternals } from '../../../infra/kafkajs-request-queue';

interface RequestQueue extends RequestQueueInternals {
  push(request: { entry: object; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function requestQueue(maxInFlightRequests: number | null = 1): RequestQueue {
  const RequestQueue = requestQueueClass() as unknown as RequestQueueClass;
  return new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger });
}

function push(queue: RequestQueue, correlationId: number): jest.Mock {
  const sendRequest = jest.fn();
  const entry = { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 7, resolve: jest.fn(), reject: jest.fn() };
  queue.push({ entry, expectResponse: true, sendRequest });
  return sendRequest;
}

const answer = (queue: RequestQueue, correlationId: number): void =>
  queue.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

describe("kafkajs's request queue (infra/kafkajs-request-queue.ts)", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is fixed in the kafkajs release installed (an upgrade must look at the fix again)', () => {
    const installed = JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(KAFKAJS_VERSION_FIXED);
    expect(fixKafkajsRequestQueue()).toBe(true);
  });

  it('arms no timer once every request is answered (kafkajs re-armed one with a negative delay, for ever)', () => {
    const queue = requestQueue(null);
    const sent = push(queue, 1);
    expect(sent).toHaveBeenCalledTimes(1);
    answer(queue, 1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('sends a request queued behind the one in flight when that is answered, then polls nothing', () => {
    const queue = requestQueue(1);
    push(queue, 1);
    const second = push(queue, 2);
    expect(second).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(1);
    answer(queue, 1);
    expect(second).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(10);
    answer(queue, 2);
    jest.advanceTimersByTime(1_000);
    expect(jest.getTimerCount()).toBe(0);
    expect(queue.pending).toHaveLength(0);
  });

  it('checks a throttled queue again when the throttle ends', () => {
    const queue = requestQueue(null);
    queue.throttledUntil = Date.now() + 500;
    const sent = push(queue, 1);
    jest.advanceTimersByTime(499);
    expect(sent).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(sent).toHaveBeenCalledTimes(1);
    answer(queue, 1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('retries a queued request every 10 ms while the in-flight limit holds it back', () => {
    const queue = requestQueue(1);
    push(queue, 1);
    const second = push(queue, 2);
    jest.advanceTimersByTime(35);
    expect(second).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(1);
  });
});
