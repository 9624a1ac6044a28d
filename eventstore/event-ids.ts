import { createHash } from 'node:crypto';

// A fixed namespace for name-based (version 5 style) UUIDs of events.
const NAMESPACE = Buffer.from('6f1c3c1e2a7b4d0e9b5f2c8d4a1e7f30', 'hex');

/**
 * The id of the event at `version` of `streamId`, the same on every retry: a single writer that
 * retries an append produces the same ids, so the store recognises the retry and writes nothing.
 */
export function deterministicEventId(streamId: string, version: number): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`${streamId}@${version}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
