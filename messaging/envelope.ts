import { z } from 'zod';
import type { EventMetadata, StoredEvent } from '../eventstore';
import { ORDER_STREAM_TYPE, orderIdFromStreamId } from '../domain/order/events';
import { MalformedMessageError } from './errors';

/**
 * The one message format on both brokers. The body carries the whole event, so a consumer needs
 * nothing else; the headers repeat what routing, tracing and deduplication need without parsing it.
 */
export interface EventEnvelope {
  eventId: string;
  type: string;
  schemaVersion: number;
  streamId: string;
  streamType: string;
  streamVersion: number;
  /** A bigint in the store; a string here because JSON numbers lose precision above 2^53. */
  globalPosition: string;
  data: unknown;
  metadata: EventMetadata;
  /** ISO 8601. */
  recordedAt: string;
}

export const ENVELOPE_HEADERS = {
  messageId: 'message-id',
  type: 'type',
  schemaVersion: 'schema-version',
  correlationId: 'correlation-id',
  causationId: 'causation-id',
  traceparent: 'traceparent',
  streamId: 'stream-id',
  streamVersion: 'stream-version',
  /** Which publishing path sent this copy (`relay:<instance>`, or a worker's publishing): told by the publisher, not the event. */
  publishedBy: 'published-by',
} as const;

/** The headers of an encoded event, with the publishing path's name added when one is given. */
export const headersPublishedBy = (headers: Record<string, string>, publishedBy: string | undefined): Record<string, string> =>
  publishedBy === undefined ? headers : { ...headers, [ENVELOPE_HEADERS.publishedBy]: publishedBy };

export const ENVELOPE_CONTENT_TYPE = 'application/json';

/** A stored event encoded once, ready for either broker. */
export interface EncodedEvent {
  envelope: EventEnvelope;
  body: Buffer;
  headers: Record<string, string>;
  /** RabbitMQ topic routing key: `<streamType>.<type>`. */
  routingKey: string;
  /** Kafka message key: one order's events hash to one partition, which keeps them in order. */
  partitionKey: string;
}

export function toEnvelope(event: StoredEvent): EventEnvelope {
  return {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    streamId: event.streamId,
    streamType: event.streamType,
    streamVersion: event.streamVersion,
    globalPosition: event.globalPosition.toString(),
    data: event.data,
    metadata: event.metadata ?? {},
    recordedAt: event.recordedAt.toISOString(),
  };
}

export function routingKeyOf(streamType: string, type: string): string {
  return `${streamType}.${type}`;
}

export function partitionKeyOf(streamType: string, streamId: string): string {
  if (streamType === ORDER_STREAM_TYPE) return orderIdFromStreamId(streamId) ?? streamId;
  return streamId;
}

export function envelopeHeaders(envelope: EventEnvelope): Record<string, string> {
  const headers: Record<string, string> = {
    [ENVELOPE_HEADERS.messageId]: envelope.eventId,
    [ENVELOPE_HEADERS.type]: envelope.type,
    [ENVELOPE_HEADERS.schemaVersion]: String(envelope.schemaVersion),
    [ENVELOPE_HEADERS.streamId]: envelope.streamId,
    [ENVELOPE_HEADERS.streamVersion]: String(envelope.streamVersion),
  };
  const { correlationId, causationId, traceparent } = envelope.metadata;
  // Metadata is free-form JSON: only strings make sense as header values.
  if (typeof correlationId === 'string') headers[ENVELOPE_HEADERS.correlationId] = correlationId;
  if (typeof causationId === 'string') headers[ENVELOPE_HEADERS.causationId] = causationId;
  if (typeof traceparent === 'string') headers[ENVELOPE_HEADERS.traceparent] = traceparent;
  return headers;
}

// Stored events are immutable and the relay hands the same objects to both brokers' publishers:
// each is serialised once.
const encoded = new WeakMap<StoredEvent, EncodedEvent>();

export function encodeEvent(event: StoredEvent): EncodedEvent {
  const cached = encoded.get(event);
  if (cached) return cached;
  const envelope = toEnvelope(event);
  const result: EncodedEvent = {
    envelope,
    body: Buffer.from(JSON.stringify(envelope)),
    headers: envelopeHeaders(envelope),
    routingKey: routingKeyOf(envelope.streamType, envelope.type),
    partitionKey: partitionKeyOf(envelope.streamType, envelope.streamId),
  };
  encoded.set(event, result);
  return result;
}

const EnvelopeSchema = z.object({
  eventId: z.uuid(),
  type: z.string().min(1),
  schemaVersion: z.number().int().min(1),
  streamId: z.string().min(1),
  streamType: z.string().min(1),
  streamVersion: z.number().int().min(1),
  globalPosition: z.string().regex(/^\d+$/),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  recordedAt: z.iso.datetime({ offset: true }),
});

/** Reads a message body back into an envelope; anything else is a MalformedMessageError. */
export function parseEnvelope(body: Buffer | string | null | undefined): EventEnvelope {
  if (body === null || body === undefined) throw new MalformedMessageError('Message has no body');
  let json: unknown;
  try {
    json = JSON.parse(body.toString());
  } catch (err) {
    throw new MalformedMessageError(`Message body is not JSON: ${(err as Error).message}`);
  }
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new MalformedMessageError(`Message body is not an event envelope: ${issues}`);
  }
  return parsed.data as EventEnvelope;
}
