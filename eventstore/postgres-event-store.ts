import type { Knex } from 'knex';
import type { DatabaseError, QueryResultRow } from 'pg';
import { queryPrepared, type PreparedStatement } from '../infra/postgres';
import { AppendNotifier } from './notifier';
import { ConcurrencyError, IdempotencyConflictError, InvalidEventError } from './errors';
import type { EventRegistry } from './registry';
import type {
  AppendResult,
  EventMetadata,
  ExpectedVersion,
  GlobalCheckpoint,
  NewEvent,
  StoredEvent,
} from './types';
import { DEFAULT_MAX_EVENT_BYTES, expectedVersionParam, prepareAppend, validateStreamId } from './validation';

export interface AppendOptions {
  expectedVersion: ExpectedVersion;
  /** Defaults to the stream id's prefix before the first '-' (e.g. 'Order' for 'Order-42'). */
  streamType?: string;
}

export interface ReadStreamOptions {
  /** Forward: the first version to return (default 1). Backward: the last (default: the head). */
  fromVersion?: number;
  direction?: 'forward' | 'backward';
  limit?: number;
}

export interface ReadAllOptions {
  /** Return events strictly after this checkpoint. */
  after: GlobalCheckpoint;
  limit?: number;
  /** Only events of streams of this type (a category, e.g. 'Order'). */
  streamType?: string;
}

export interface ReadAllResult {
  events: StoredEvent[];
  /** Where the next read resumes: the last returned event, or `after` when nothing was returned. */
  checkpoint: GlobalCheckpoint;
}

interface EventRow {
  global_position: string;
  transaction_id_text: string;
  stream_id: string;
  stream_type: string;
  stream_version: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date;
}

// transaction_id is read as text (xid8 has no JS type) under another name, so that ORDER BY
// transaction_id still sorts by the xid8 column, not by its text.
const EVENT_COLUMNS = `global_position, transaction_id::text AS transaction_id_text, stream_id, stream_type, stream_version,
  event_id, event_type, schema_version, data, metadata, recorded_at`;

interface AppendRow extends QueryResultRow {
  next_version: string;
  first_position: string;
  last_position: string;
  duplicate: boolean;
}

const APPEND_SQL = {
  name: 'event_store_append',
  text: 'SELECT * FROM append_events($1, $2, $3, $4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[])',
};

// Only rows whose writing transaction is older than every transaction still in flight: an event
// that commits late is then delivered after the ones read before it, never skipped.
const READ_ALL_SQL = {
  name: 'event_store_read_all',
  text: `SELECT ${EVENT_COLUMNS} FROM events
          WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY transaction_id, global_position
          LIMIT $3`,
};

const READ_CATEGORY_SQL = {
  name: 'event_store_read_category',
  text: `SELECT ${EVENT_COLUMNS} FROM events
          WHERE stream_type = $4
            AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY transaction_id, global_position
          LIMIT $3`,
};

export function streamTypeOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash > 0 ? streamId.slice(0, dash) : streamId;
}

function isDatabaseError(err: unknown): err is DatabaseError {
  return typeof err === 'object' && err !== null && 'code' in err && 'severity' in err;
}

/**
 * The Postgres event store. Appends are one round trip to append_events() (see the migration), which
 * enforces every expected-version mode and idempotency atomically under the stream row's lock.
 */
export interface EventStoreOptions {
  maxEventBytes?: number;
  /** Wake LISTENing subscribers after appends (default true). Off for a store bound to a transaction. */
  notifyAppends?: boolean;
}

export class PostgresEventStore {
  private readonly notifier: AppendNotifier | undefined;

  constructor(
    private readonly db: Knex,
    readonly registry: EventRegistry,
    private readonly options: EventStoreOptions = {},
  ) {
    this.notifier = options.notifyAppends === false ? undefined : new AppendNotifier(db);
  }

  async append(streamId: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    validateStreamId(streamId);
    const expected = expectedVersionParam(options?.expectedVersion);
    const streamType = options.streamType ?? streamTypeOf(streamId);
    const batch = prepareAppend(this.registry, events, this.options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES);
    try {
      const rows = await this.query<AppendRow>(APPEND_SQL, [
        streamId,
        streamType,
        expected,
        batch.eventIds,
        batch.types,
        batch.schemaVersions,
        batch.data,
        batch.metadata,
      ]);
      const row = rows[0];
      if (!row) throw new Error('append_events returned no row');
      if (!row.duplicate) this.notifier?.notify(streamType);
      return {
        nextExpectedVersion: Number(row.next_version),
        firstPosition: BigInt(row.first_position),
        lastPosition: BigInt(row.last_position),
        duplicate: row.duplicate,
      };
    } catch (err) {
      throw this.translate(err, streamId, options.expectedVersion);
    }
  }

  private query<Row extends QueryResultRow>(statement: PreparedStatement, values: unknown[]): Promise<Row[]> {
    return queryPrepared<Row>(this.db, statement, values);
  }

  private translate(err: unknown, streamId: string, expected: ExpectedVersion): unknown {
    if (!isDatabaseError(err)) return err;
    if (err.code === 'ES409') {
      const detail = JSON.parse(err.detail ?? '{}') as { actual?: number };
      return new ConcurrencyError(streamId, expected, Number(detail.actual ?? 0));
    }
    if (err.code === 'ES422') return new IdempotencyConflictError(err.message);
    // A racing duplicate that slipped past the in-function check (cannot happen under the row lock,
    // but never leak a raw driver error).
    if (err.code === '23505') return new IdempotencyConflictError(`Event ids already stored: ${err.detail ?? err.message}`);
    return err;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
    validateStreamId(streamId);
    const direction = options.direction ?? 'forward';
    const limit = options.limit ?? 10_000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidEventError('limit must be a positive integer');
    const query = this.db.select(this.db.raw(EVENT_COLUMNS)).from('events').where('stream_id', streamId).limit(limit);
    if (direction === 'forward') {
      query.where('stream_version', '>=', options.fromVersion ?? 1).orderBy('stream_version', 'asc');
    } else {
      if (options.fromVersion !== undefined) query.where('stream_version', '<=', options.fromVersion);
      query.orderBy('stream_version', 'desc');
    }
    const rows = (await query) as EventRow[];
    return rows.map((row) => this.toStoredEvent(row));
  }

  /** The stream's current version (0 when it does not exist). */
  async streamVersion(streamId: string): Promise<number> {
    validateStreamId(streamId);
    const row = await this.db('streams').where('stream_id', streamId).first<{ version: string } | undefined>('version');
    return row ? Number(row.version) : 0;
  }

  /**
   * Reads the global log (or one category of it) after a checkpoint, in commit-safe order: only
   * events whose writing transaction is older than every transaction still in flight are returned,
   * so an event that commits late is delivered after, never skipped.
   */
  async readAll(options: ReadAllOptions): Promise<ReadAllResult> {
    const limit = options.limit ?? 1000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidEventError('limit must be a positive integer');
    const { after } = options;
    const rows =
      options.streamType === undefined
        ? await this.query<EventRow>(READ_ALL_SQL, [after.transactionId.toString(), after.globalPosition.toString(), limit])
        : await this.query<EventRow>(READ_CATEGORY_SQL, [
            after.transactionId.toString(),
            after.globalPosition.toString(),
            limit,
            options.streamType,
          ]);
    const events = rows.map((row) => this.toStoredEvent(row));
    const last = events[events.length - 1];
    return {
      events,
      checkpoint: last ? { transactionId: last.transactionId, globalPosition: last.globalPosition } : after,
    };
  }

  /** The checkpoint a reader that has read everything committed so far would hold. */
  async headCheckpoint(): Promise<GlobalCheckpoint> {
    const { rows } = await this.db.raw<{ rows: { txid: string; global_position: string }[] }>(
      `SELECT transaction_id::text AS txid, global_position FROM events
        WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row ? { transactionId: BigInt(row.txid), globalPosition: BigInt(row.global_position) } : { transactionId: 0n, globalPosition: 0n };
  }

  /** The newest committed-safe position: where a fully caught-up reader stands. */
  async headPosition(): Promise<bigint> {
    const { rows } = await this.db.raw<{ rows: { head: string | null }[] }>(
      'SELECT max(global_position) AS head FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())',
    );
    return BigInt(rows[0]?.head ?? 0);
  }

  private toStoredEvent(row: EventRow): StoredEvent {
    const { data, schemaVersion } = this.registry.upcast(row.event_type, row.schema_version, row.data);
    return {
      globalPosition: BigInt(row.global_position),
      transactionId: BigInt(row.transaction_id_text),
      streamId: row.stream_id,
      streamType: row.stream_type,
      streamVersion: Number(row.stream_version),
      eventId: row.event_id,
      type: row.event_type,
      schemaVersion,
      data,
      metadata: row.metadata,
      recordedAt: row.recorded_at,
    };
  }
}
