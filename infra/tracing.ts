/**
 * OpenTelemetry for every process of the system, configured only by the standard variables:
 *   OTEL_SDK_DISABLED=true         no SDK at all: the API's no-op tracer, no Temporal interceptors
 *   OTEL_EXPORTER_OTLP_ENDPOINT    where spans go (OTLP over HTTP/protobuf; default http://localhost:4318)
 *   OTEL_SERVICE_NAME              the process's service name (default: the name its entrypoint gives)
 *   OTEL_TRACES_SAMPLER(_ARG)      sampling (default parentbased_always_on)
 *   OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_* and the other OTLP exporter variables are honoured too.
 * With tracing off nothing is registered, so every helper here costs a function call.
 *
 * An order's spans form one trace: its POST /orders span is the trace's root, its traceparent is kept
 * in the workflow's memo, and each later request for the order starts its span as a child of that root
 * with a link to the caller's own context (orderRequestSpan). Temporal's interceptors carry the context
 * into the workflow and its activities; events keep it in their metadata, messages in a W3C
 * `traceparent` header.
 */
import {
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
  createContextKey,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, type ReadableSpan, type Span as SdkSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The span attribute that names an order: search Jaeger by the tag `order.id=<id>`. */
export const ORDER_ID_ATTRIBUTE = 'order.id';
const TRACER_NAME = 'orders-on-temporal';

export interface Tracing {
  /** The workers hand workflow spans (exported through a sink) to the same processor. */
  readonly spanProcessor: SpanProcessor;
  readonly resource: Resource;
  /** Exports what is buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

const ORDER_ID_KEY = createContextKey('orders-on-temporal order id');

/** The context with the order a piece of work is for: every span started in it carries `order.id`. */
export function withOrderId(ctx: Context, orderId: string): Context {
  return ctx.setValue(ORDER_ID_KEY, orderId);
}

/**
 * Puts the order id of the context (withOrderId) on each span started in it, so that spans of
 * libraries (Temporal's client calls, say) are found by the order's id too.
 */
class OrderIdSpanProcessor implements SpanProcessor {
  onStart(span: SdkSpan, parentContext: Context): void {
    const orderId = parentContext.getValue(ORDER_ID_KEY);
    if (typeof orderId === 'string' && span.attributes[ORDER_ID_ATTRIBUTE] === undefined) span.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
  }
  onEnd(_span: ReadableSpan): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** True unless OTEL_SDK_DISABLED is true (the specification's spelling: case-insensitive "true"). */
export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() !== 'true';
}

/**
 * Installs the SDK once per process (later calls return the first installation), or nothing when
 * tracing is off. `serviceName` is the default; OTEL_SERVICE_NAME wins.
 */
export function startTracing(serviceName: string): Tracing | undefined {
  if (installed || !tracingEnabled()) return installed;
  const resource = Resource.default()
    .merge(new Resource({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(envDetectorSync.detect());
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new OrderIdSpanProcessor(), spanProcessor] });
  // Registers the AsyncLocalStorage context manager and the W3C propagators (OTEL_PROPAGATORS).
  provider.register();
  installed = { spanProcessor, resource, shutdown: () => provider.shutdown() };
  return installed;
}

/** True once this process installed the SDK: spans are recorded and exported. */
export function tracingActive(): boolean {
  return installed !== undefined;
}

/** The installed SDK, if any (the workers need its processor for the workflow spans). */
export function installedTracing(): Tracing | undefined {
  return installed;
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

// The event metadata and the message header are W3C fields by name, whatever OTEL_PROPAGATORS says.
const w3c = new W3CTraceContextPropagator();
const recordGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};
const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The W3C traceparent of a context's span (default: the active one), or undefined without a valid span. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  if (!installed) return undefined;
  const carrier: Record<string, string> = {};
  w3c.inject(ctx, carrier, recordSetter);
  return carrier.traceparent;
}

/** The context a W3C traceparent names (a remote parent), or undefined when there is none or it is malformed. */
export function contextFromTraceparent(traceparent: unknown): Context | undefined {
  if (!installed || typeof traceparent !== 'string') return undefined;
  const ctx = w3c.extract(ROOT_CONTEXT, { traceparent }, recordGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** The caller's context from request or message headers (W3C traceparent/tracestate). */
export function contextFromHeaders(headers: Record<string, unknown>): Context | undefined {
  if (!installed) return undefined;
  const ctx = w3c.extract(ROOT_CONTEXT, headers, recordGetter);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** A link to a context's span, for a span that follows from it without being its child. */
export function linkTo(ctx: Context | undefined, attributes?: Attributes): Link[] {
  const spanContext = ctx && trace.getSpanContext(ctx);
  return spanContext ? [{ context: spanContext, attributes }] : [];
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent (default: the active context); ROOT_CONTEXT starts a new trace. */
  parent?: Context;
  links?: Link[];
  attributes?: Attributes;
}

/**
 * Runs `fn` in a new active span that ends when it settles; a rejection is recorded on the span and
 * rethrown. Without tracing, `fn` runs with the API's non-recording span.
 */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!installed) return fn(NON_RECORDING);
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind, links: options.links, attributes: options.attributes }, parent);
  const orderId = options.attributes?.[ORDER_ID_ATTRIBUTE];
  const active = trace.setSpan(parent, span);
  try {
    return await context.with(typeof orderId === 'string' ? withOrderId(active, orderId) : active, () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

const NON_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** trace_id and span_id of the active span, for log lines (empty when no span is active). */
export function activeTraceIds(): { trace_id: string; span_id: string } | Record<string, never> {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}

export { ROOT_CONTEXT, SpanKind, context, trace, type Context, type Span };
