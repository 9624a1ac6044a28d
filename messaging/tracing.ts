/**
 * Spans for publishing events and the W3C traceparent their messages carry (infra/tracing.ts).
 *
 * A publish inside a span (the append or publishing activity: the fast path) is that span's child, and
 * its messages carry the publish span's context. A batch the relay publishes for one append (all its
 * events share one stored traceparent) continues that context the same way. A batch that mixes traces
 * would mislead as anyone's child: its span starts a trace of its own with a link to each event's
 * context, and each message keeps its event's own traceparent.
 */
import { ORDER_ID_ATTRIBUTE, ROOT_CONTEXT, SpanKind, context, contextFromTraceparent, inSpan, linkTo, trace, traceparentOf, tracingActive } from '../infra/tracing';
import { orderIdFromStreamId } from '../domain/order/events';
import { ENVELOPE_HEADERS, type EncodedEvent } from './envelope';
import type { Broker } from './errors';

/** Message headers of one event, with the traceparent the message is to carry. */
export type HeadersOf = (event: EncodedEvent) => Record<string, string>;

const storedHeaders: HeadersOf = (event) => event.headers;

export async function tracedPublish(
  broker: Broker,
  destination: string,
  events: readonly EncodedEvent[],
  publish: (headersOf: HeadersOf) => Promise<void>,
): Promise<void> {
  if (!tracingActive()) return publish(storedHeaders);
  const stored = new Set(events.map((event) => event.headers[ENVELOPE_HEADERS.traceparent]));
  const active = trace.getSpan(context.active())?.spanContext();
  const single = stored.size === 1 ? contextFromTraceparent([...stored][0]) : undefined;
  const parent = active && trace.isSpanContextValid(active) ? context.active() : single;
  const orders = new Set(events.map((event) => orderIdFromStreamId(event.envelope.streamId)));
  const orderId = orders.size === 1 ? [...orders][0] : undefined;
  return inSpan(
    `publish ${destination}`,
    {
      kind: SpanKind.PRODUCER,
      parent: parent ?? ROOT_CONTEXT,
      links: parent ? [] : [...stored].flatMap((traceparent) => linkTo(contextFromTraceparent(traceparent))),
      attributes: {
        'messaging.system': broker,
        'messaging.operation.type': 'send',
        'messaging.destination.name': destination,
        'messaging.batch.message_count': events.length,
        ...(orderId ? { [ORDER_ID_ATTRIBUTE]: orderId } : {}),
      },
    },
    async () => {
      const traceparent = parent ? traceparentOf() : undefined;
      return publish(traceparent ? (event) => ({ ...event.headers, [ENVELOPE_HEADERS.traceparent]: traceparent }) : storedHeaders);
    },
  );
}
