/** Jaeger's query API (the JSON one its UI uses), for the tracing tests. */
import { readStackEnv } from '../../stack/environments';

export const JAEGER_UI_URL = `http://127.0.0.1:${readStackEnv().JAEGER_UI_PORT ?? '16686'}`;
export const JAEGER_OTLP_URL = `http://127.0.0.1:${readStackEnv().JAEGER_OTLP_HTTP_PORT ?? '4318'}`;

export interface JaegerTag {
  key: string;
  type: string;
  value: unknown;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: 'CHILD_OF' | 'FOLLOWS_FROM'; traceID: string; spanID: string }[];
  tags: JaegerTag[];
  processID: string;
  startTime: number;
  duration: number;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: JaegerTag[] }>;
}

export const tagOf = (span: JaegerSpan, key: string): unknown => span.tags.find((tag) => tag.key === key)?.value;

/** The traces that hold a span of `service` tagged with the order's id (searched over the last hour). */
export async function orderTraces(service: string, orderId: string): Promise<JaegerTrace[]> {
  const params = new URLSearchParams({
    service,
    tags: JSON.stringify({ 'order.id': orderId }),
    lookback: '1h',
    start: String((Date.now() - 3_600_000) * 1000),
    end: String((Date.now() + 60_000) * 1000),
    limit: '50',
  });
  const response = await fetch(`${JAEGER_UI_URL}/api/traces?${params}`);
  if (!response.ok) throw new Error(`Jaeger answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: JaegerTrace[] | null }).data ?? [];
}

/** A whole trace by id. */
export async function traceById(traceId: string): Promise<JaegerTrace | undefined> {
  const response = await fetch(`${JAEGER_UI_URL}/api/traces/${traceId}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`Jaeger answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: JaegerTrace[] }).data[0];
}

/** Polls the order's trace (found through `service`) until `complete` says it holds everything, or the time is up. */
export async function waitForOrderTrace(
  service: string,
  orderId: string,
  complete: (trace: JaegerTrace) => boolean,
  timeoutMs = 60_000,
): Promise<{ traces: JaegerTrace[]; trace: JaegerTrace | undefined }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await orderTraces(service, orderId);
    const whole = found.length === 1 ? await traceById(found[0]!.traceID) : undefined;
    if ((whole && complete(whole)) || Date.now() > deadline) return { traces: found, trace: whole };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
