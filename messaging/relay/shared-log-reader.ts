import type { GlobalCheckpoint } from '../../eventstore';

const MAX_CACHED_EVENTS = 20_000;

/**
 * Reads pages of the global log for several readers that mostly stand at the same checkpoint (the
 * relay's lanes): the first reader to ask for a page reads it, the others get the same page, so the
 * database is read, and events decoded (and whatever `readPage` adds looked up), once instead of once
 * per lane.
 *
 * Sharing a full page read a moment earlier is exact: a gap-free page only holds events of
 * transactions older than every transaction in flight at the time, so it is the start of what a later
 * read from the same checkpoint returns, and being full it is all of it. A short page (the reader
 * caught up) may miss events committed since, so it is only shared with readers asking at the same
 * time. A lane that falls far behind (its broker is down) simply reads its own pages: the cache is
 * bounded.
 */
export class SharedLogReader<Page extends { events: readonly unknown[] }> {
  private readonly pages = new Map<string, { result: Promise<Page>; readers: number }>();
  private readonly maxPages: number;

  constructor(
    /** Reads up to `limit` events after the checkpoint, in log order. */
    private readonly readPage: (after: GlobalCheckpoint) => Promise<Page>,
    private readonly sharers: number,
    private readonly limit: number,
  ) {
    // Enough for one lane to run well ahead of another (brokers differ in speed) and still share its
    // pages; about 20k events, some tens of MB at most.
    this.maxPages = Math.max(4, Math.ceil(MAX_CACHED_EVENTS / limit));
  }

  read(after: GlobalCheckpoint): Promise<Page> {
    if (this.sharers <= 1) return this.readPage(after);
    const key = `${after.transactionId}:${after.globalPosition}`;
    const cached = this.pages.get(key);
    if (cached) {
      cached.readers++;
      if (cached.readers >= this.sharers) this.pages.delete(key);
      return cached.result;
    }
    const entry = { result: this.readPage(after), readers: 1 };
    this.pages.set(key, entry);
    const drop = (): void => {
      if (this.pages.get(key) === entry) this.pages.delete(key);
    };
    entry.result.then((page) => page.events.length < this.limit && drop(), drop);
    // Oldest first: Map iteration follows insertion order.
    for (const oldest of this.pages.keys()) {
      if (this.pages.size <= this.maxPages) break;
      this.pages.delete(oldest);
    }
    return entry.result;
  }
}
