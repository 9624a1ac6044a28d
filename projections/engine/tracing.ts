/**
 * A projector's spans (infra/tracing.ts). Events keep the trace context of the activity that appended
 * them (metadata.traceparent), so applying them continues each order's trace: one span per append's
 * worth of events in a delivery or batch, a child of that append. A batch that mixes several appends
 * also gets a span of its own (the transaction they all commit in), which is nobody's child: it starts
 * its own trace, links to each of them, and each of theirs links back to it.
 */
import { ORDER_ID_ATTRIBUTE, ROOT_CONTEXT, SpanKind, contextFromTraceparent, inSpan, linkTo, trace, tracer, tracingActive, type Span } from '../../infra/tracing';
import { orderIdFromStreamId } from '../../domain/order/events';

/** What a span needs of an event: its stream, type and (delivered events have it) the stored metadata. */
interface TracedEvent {
  streamId: string;
  type: string;
  metadata?: { traceparent?: unknown };
}

export async function tracedApply(projector: string, events: readonly TracedEvent[], apply: () => Promise<void>): Promise<void> {
  if (!tracingActive() || events.length === 0) return apply();
  const groups = new Map<string, TracedEvent[]>();
  for (const event of events) {
    const traceparent = typeof event.metadata?.traceparent === 'string' ? event.metadata.traceparent : '';
    groups.set(traceparent, [...(groups.get(traceparent) ?? []), event]);
  }
  const name = `project ${projector}`;
  const attributes = (group: readonly TracedEvent[]) => {
    const orderId = orderIdFromStreamId(group[0]!.streamId);
    return {
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': projector,
      'messaging.batch.message_count': group.length,
      'event.types': [...new Set(group.map((event) => event.type))].join(','),
      ...(orderId && group.every((event) => event.streamId === group[0]!.streamId) ? { [ORDER_ID_ATTRIBUTE]: orderId } : {}),
    };
  };
  const run = async (batch: Span | undefined): Promise<void> => {
    const spans = [...groups].map(([traceparent, group]) =>
      tracer().startSpan(
        name,
        { kind: SpanKind.CONSUMER, attributes: attributes(group), links: batch ? linkTo(trace.setSpan(ROOT_CONTEXT, batch)) : [] },
        contextFromTraceparent(traceparent) ?? ROOT_CONTEXT,
      ),
    );
    try {
      await apply();
    } catch (err) {
      for (const span of spans) span.recordException(err as Error);
      throw err;
    } finally {
      for (const span of spans) span.end();
    }
  };
  if (groups.size === 1) return run(undefined);
  return inSpan(
    `${name} batch`,
    {
      kind: SpanKind.CONSUMER,
      parent: ROOT_CONTEXT,
      links: [...groups.keys()].flatMap((traceparent) => linkTo(contextFromTraceparent(traceparent))),
      attributes: { 'messaging.operation.type': 'process', 'messaging.consumer.group.name': projector, 'messaging.batch.message_count': events.length },
    },
    (batch) => run(batch),
  );
}
