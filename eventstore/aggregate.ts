import type { Knex } from 'knex';
import type { PostgresEventStore } from './postgres-event-store';
import type { AppendResult, EventMetadata, NewEvent } from './types';

/** An event as the domain sees it: its type and payload. */
export interface DomainEvent {
  type: string;
  data: unknown;
}

export interface AggregateDefinition<State, Event extends DomainEvent> {
  initialState: State;
  evolve(state: State, event: Event): State;
  /** Take a snapshot every N events (off when absent). */
  snapshotEvery?: number;
  /** Bump when State's shape changes: older snapshots are then ignored and rebuilt. */
  snapshotVersion?: number;
}

export interface LoadedAggregate<State> {
  state: State;
  /** The stream version the state reflects: the expectedVersion for the next save. */
  version: number;
}

/**
 * Loads and saves event-sourced aggregates through the event store, optionally from snapshots.
 */
export class AggregateRepository<State, Event extends DomainEvent> {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly db: Knex,
    private readonly definition: AggregateDefinition<State, Event>,
  ) {}

  async load(streamId: string): Promise<LoadedAggregate<State>> {
    const snapshot = await this.readSnapshot(streamId);
    let state = snapshot?.state ?? this.definition.initialState;
    let version = snapshot?.version ?? 0;
    for (;;) {
      const events = await this.store.readStream(streamId, { fromVersion: version + 1, limit: 5000 });
      for (const event of events) {
        state = this.definition.evolve(state, event as unknown as Event);
        version = event.streamVersion;
      }
      if (events.length < 5000) break;
    }
    return { state, version };
  }

  /** Appends the events a decision produced, expecting the version the state was loaded at. */
  async save(
    streamId: string,
    loaded: LoadedAggregate<State>,
    events: readonly (Event & { eventId: string })[],
    metadata?: EventMetadata,
  ): Promise<AppendResult> {
    const newEvents: NewEvent[] = events.map((e) => ({ eventId: e.eventId, type: e.type, data: e.data, metadata }));
    const result = await this.store.append(streamId, newEvents, {
      expectedVersion: loaded.version === 0 ? 'no_stream' : loaded.version,
    });
    await this.maybeSnapshot(streamId, loaded, events, result);
    return result;
  }

  private async maybeSnapshot(
    streamId: string,
    loaded: LoadedAggregate<State>,
    events: readonly Event[],
    result: AppendResult,
  ): Promise<void> {
    const every = this.definition.snapshotEvery;
    if (!every || result.duplicate) return;
    const crossed = Math.floor(result.nextExpectedVersion / every) > Math.floor(loaded.version / every);
    if (!crossed) return;
    const state = events.reduce((s, e) => this.definition.evolve(s, e), loaded.state);
    // Only moves forward: a slower writer never replaces a newer snapshot.
    await this.db.raw(
      `INSERT INTO snapshots (stream_id, stream_version, snapshot_version, state) VALUES (?, ?, ?, ?::jsonb)
       ON CONFLICT (stream_id) DO UPDATE SET stream_version = excluded.stream_version,
         snapshot_version = excluded.snapshot_version, state = excluded.state, taken_at = now()
       WHERE snapshots.stream_version < excluded.stream_version`,
      [streamId, result.nextExpectedVersion, this.definition.snapshotVersion ?? 1, JSON.stringify(state)],
    );
  }

  private async readSnapshot(streamId: string): Promise<LoadedAggregate<State> | undefined> {
    if (!this.definition.snapshotEvery) return undefined;
    const row = await this.db('snapshots')
      .where({ stream_id: streamId, snapshot_version: this.definition.snapshotVersion ?? 1 })
      .first<{ stream_version: string; state: State } | undefined>('stream_version', 'state');
    return row ? { state: row.state, version: Number(row.stream_version) } : undefined;
  }
}
