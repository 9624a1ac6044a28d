import type { Knex } from 'knex';

export const NOTIFY_CHANNEL = 'event_store';

/**
 * Wakes subscribers after appends commit. NOTIFY takes a database-wide lock at commit, so sending
 * one per append would serialise all appenders; instead, appends made while a notification is in
 * flight are coalesced into the next one (one per stream type). Subscribers poll as well, so a
 * notification lost to a crash costs latency, never events.
 */
export class AppendNotifier {
  private readonly pending = new Set<string>();
  private flushing = false;

  constructor(private readonly db: Knex) {}

  notify(streamType: string): void {
    this.pending.add(streamType);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    while (this.pending.size > 0) {
      const streamTypes = [...this.pending];
      this.pending.clear();
      try {
        await this.db.raw('SELECT pg_notify(?, t) FROM unnest(?::text[]) AS t', [NOTIFY_CHANNEL, streamTypes]);
      } catch {
        // Best effort by design: subscribers' polling picks the events up anyway.
      }
    }
    this.flushing = false;
  }
}
