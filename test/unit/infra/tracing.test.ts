import { ORDER_ID_ATTRIBUTE, activeTraceIds, contextFromTraceparent, inSpan, startTracing, trace, traceparentOf, withOrderId, context } from '../../../infra/tracing';

describe('tracing helpers (the SDK installed in this process, exporting nowhere it waits for)', () => {
  const tracing = (() => {
    // Nothing listens there; the batch processor drops what it cannot send.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://127.0.0.1:9';
    delete process.env.OTEL_SDK_DISABLED;
    return startTracing('unit-test');
  })();
  afterAll(() => tracing?.shutdown().catch(() => undefined));

  it('puts the active span on log lines, and nothing outside a span', async () => {
    expect(activeTraceIds()).toEqual({});
    await inSpan('work', {}, async (span) => {
      expect(activeTraceIds()).toEqual({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
    });
  });

  it('reads back the traceparent it writes, and refuses malformed ones', async () => {
    await inSpan('work', {}, async (span) => {
      const traceparent = traceparentOf()!;
      expect(traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
      expect(trace.getSpanContext(contextFromTraceparent(traceparent)!)).toMatchObject({ traceId: span.spanContext().traceId, isRemote: true });
    });
    expect(contextFromTraceparent('00-abc-def-01')).toBeUndefined();
    expect(contextFromTraceparent(undefined)).toBeUndefined();
  });

  it("continues a stored context as the parent, and gives every span started in an order's context its id", async () => {
    const root = contextFromTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')!;
    await context.with(withOrderId(root, 'order-1'), () =>
      inSpan('child', {}, async (span) => {
        expect(span.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
        expect((span as unknown as { attributes: Record<string, unknown> }).attributes[ORDER_ID_ATTRIBUTE]).toBe('order-1');
      }),
    );
  });
});
