import { nameBasedUuid } from '../infra/ids';

/**
 * The id of the event at `version` of `streamId`, the same on every retry: a single writer that
 * retries an append produces the same ids, so the store recognises the retry and writes nothing.
 */
export function deterministicEventId(streamId: string, version: number): string {
  return nameBasedUuid('event', `${streamId}@${version}`);
}
