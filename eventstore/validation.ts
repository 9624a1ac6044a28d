import { InvalidEventError } from './errors';
import type { EventRegistry } from './registry';
import type { EventMetadata, ExpectedVersion, NewEvent } from './types';

/** Events larger than this are refused: the log is not a blob store. */
export const DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;
export const MAX_EVENTS_PER_APPEND = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An append request checked and serialised, ready for one round trip. */
export interface PreparedAppend {
  eventIds: string[];
  types: string[];
  schemaVersions: number[];
  data: string[];
  metadata: string[];
}

export function expectedVersionParam(expected: ExpectedVersion): string {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return String(expected);
  throw new InvalidEventError(
    `Invalid expectedVersion ${JSON.stringify(expected)}: use a non-negative integer, 'no_stream', 'stream_exists' or 'any'`,
  );
}

export function validateStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || streamId.trim() === '') {
    throw new InvalidEventError('Stream id must be a non-empty string');
  }
  if (streamId.length > 200) throw new InvalidEventError('Stream id is longer than 200 characters');
}

function serialise(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new InvalidEventError(`${what} is not serialisable to JSON: ${(err as Error).message}`);
  }
  if (json === undefined) throw new InvalidEventError(`${what} is not serialisable to JSON`);
  // Postgres jsonb cannot hold \u0000; refuse it here with a clear message rather than a driver error.
  if (json.includes('\\u0000')) throw new InvalidEventError(`${what} contains a NUL character`);
  return json;
}

export function prepareAppend(
  registry: EventRegistry,
  events: readonly NewEvent[],
  maxEventBytes: number,
): PreparedAppend {
  if (!Array.isArray(events) || events.length === 0) throw new InvalidEventError('Nothing to append: the event list is empty');
  if (events.length > MAX_EVENTS_PER_APPEND) {
    throw new InvalidEventError(`At most ${MAX_EVENTS_PER_APPEND} events per append, got ${events.length}`);
  }
  const prepared: PreparedAppend = { eventIds: [], types: [], schemaVersions: [], data: [], metadata: [] };
  const seen = new Set<string>();
  for (const [index, event] of events.entries()) {
    const label = `Event #${index}${event?.type ? ` (${event.type})` : ''}`;
    if (typeof event?.eventId !== 'string' || !UUID.test(event.eventId)) {
      throw new InvalidEventError(`${label} needs an eventId that is a UUID`);
    }
    const eventId = event.eventId.toLowerCase();
    if (seen.has(eventId)) throw new InvalidEventError(`${label} repeats event id ${eventId} within one append`);
    seen.add(eventId);
    if (typeof event.type !== 'string' || event.type === '') throw new InvalidEventError(`${label} needs a type`);

    const { data: parsed, schemaVersion } = registry.validateForAppend(event.type, event.data);
    const dataJson = serialise(`${label} data`, parsed);
    const metadataJson = serialise(`${label} metadata`, (event.metadata ?? {}) satisfies EventMetadata);
    const bytes = Buffer.byteLength(dataJson) + Buffer.byteLength(metadataJson);
    if (bytes > maxEventBytes) {
      throw new InvalidEventError(`${label} is ${bytes} bytes, over the limit of ${maxEventBytes}`);
    }
    prepared.eventIds.push(eventId);
    prepared.types.push(event.type);
    prepared.schemaVersions.push(schemaVersion);
    prepared.data.push(dataJson);
    prepared.metadata.push(metadataJson);
  }
  return prepared;
}
