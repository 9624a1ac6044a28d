import type { Knex } from 'knex';

/**
 * The event store: streams (one row per stream, holding its version: the compare-and-set target)
 * and events (the log, which is also the outbox: publishers read it with the gap-free reader).
 *
 * transaction_id is the writing transaction's xid8. Readers of the global log only return rows whose
 * transaction is older than every transaction still running, so an event that commits late is never
 * skipped (a bigserial position alone is not safe to poll: position N may commit after N+1 is read).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE streams (
      stream_id    text PRIMARY KEY,
      stream_type  text NOT NULL,
      version      bigint NOT NULL CHECK (version >= 0),
      created_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE events (
      global_position  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      transaction_id   xid8 NOT NULL DEFAULT pg_current_xact_id(),
      stream_id        text NOT NULL,
      stream_type      text NOT NULL,
      stream_version   bigint NOT NULL CHECK (stream_version >= 1),
      event_id         uuid NOT NULL,
      event_type       text NOT NULL,
      schema_version   integer NOT NULL CHECK (schema_version >= 1),
      data             jsonb NOT NULL,
      metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
      recorded_at      timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version),
      CONSTRAINT events_event_id_unique UNIQUE (event_id)
    );

    -- The gap-free global reader walks (transaction_id, global_position).
    CREATE INDEX events_transaction_order ON events (transaction_id, global_position);
    -- Category subscriptions (e.g. every Order stream).
    CREATE INDEX events_category_order ON events (stream_type, transaction_id, global_position);
  `);

  // Error codes raised by append_events; eventstore/errors.ts maps them to typed errors.
  //   ES409 concurrency conflict   DETAIL: {"expected": ..., "actual": ...}
  //   ES422 idempotency mismatch   (known event ids with other content, or a partial overlap)
  await knex.raw(`
    CREATE FUNCTION append_events(
      p_stream_id        text,
      p_stream_type      text,
      p_expected         text,      -- 'any' | 'no_stream' | 'stream_exists' | a version number
      p_event_ids        uuid[],
      p_event_types      text[],
      p_schema_versions  integer[],
      p_data             jsonb[],
      p_metadata         jsonb[]
    ) RETURNS TABLE (next_version bigint, first_position bigint, last_position bigint, duplicate boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      n           integer := cardinality(p_event_ids);
      v_previous  bigint;
      v_actual    bigint;
      v_known     integer;
      v_matching  integer;
    BEGIN
      -- 1. Take the stream row lock with a compare-and-set. Appenders to one stream queue here, so
      --    'any' never fails spuriously and exact versions have exactly one winner.
      IF p_expected = 'no_stream' THEN
        INSERT INTO streams (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, n)
        ON CONFLICT (stream_id) DO NOTHING;
        IF FOUND THEN v_previous := 0; END IF;
      ELSIF p_expected = 'any' THEN
        LOOP
          UPDATE streams SET version = version + n, updated_at = now()
           WHERE stream_id = p_stream_id RETURNING version - n INTO v_previous;
          EXIT WHEN FOUND;
          INSERT INTO streams (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, n)
          ON CONFLICT (stream_id) DO NOTHING;
          IF FOUND THEN v_previous := 0; EXIT; END IF;
        END LOOP;
      ELSIF p_expected = 'stream_exists' THEN
        UPDATE streams SET version = version + n, updated_at = now()
         WHERE stream_id = p_stream_id RETURNING version - n INTO v_previous;
      ELSIF p_expected::bigint = 0 THEN
        INSERT INTO streams (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, n)
        ON CONFLICT (stream_id) DO NOTHING;
        IF FOUND THEN v_previous := 0; END IF;
      ELSE
        UPDATE streams SET version = version + n, updated_at = now()
         WHERE stream_id = p_stream_id AND version = p_expected::bigint RETURNING version - n INTO v_previous;
      END IF;

      -- 2. Idempotency: are any of these event ids already stored? Checked under the lock, so a
      --    concurrent identical append has committed by now and is seen. An exact or no_stream
      --    append whose compare-and-set succeeded cannot be a retry of a committed one (that would
      --    have moved the version), so the check is needed only when the CAS failed or the mode
      --    does not pin a version.
      IF v_previous IS NULL OR p_expected IN ('any', 'stream_exists') THEN
        SELECT count(*), count(*) FILTER (
                 WHERE e.stream_id = p_stream_id AND e.event_type = p.event_type AND e.data = p.data)
          INTO v_known, v_matching
          FROM unnest(p_event_ids, p_event_types, p_data) AS p(event_id, event_type, data)
          JOIN events e ON e.event_id = p.event_id;

        IF v_known > 0 THEN
          IF v_known = n AND v_matching = n THEN
            IF v_previous IS NOT NULL THEN
              -- Undo our compare-and-set: nothing is written for a retried append.
              UPDATE streams SET version = version - n WHERE stream_id = p_stream_id;
            END IF;
            RETURN QUERY
              SELECT max(e.stream_version), min(e.global_position), max(e.global_position), true
                FROM events e WHERE e.event_id = ANY (p_event_ids);
            RETURN;
          END IF;
          RAISE EXCEPTION 'idempotency conflict on stream %: % of % event ids are already stored, % with the same content',
            p_stream_id, v_known, n, v_matching
            USING ERRCODE = 'ES422';
        END IF;
      END IF;

      -- 3. The compare-and-set failed: report the actual version.
      IF v_previous IS NULL THEN
        SELECT s.version INTO v_actual FROM streams s WHERE s.stream_id = p_stream_id;
        RAISE EXCEPTION 'concurrency conflict on stream %: expected %, actual %', p_stream_id, p_expected, coalesce(v_actual, 0)
          USING ERRCODE = 'ES409',
                DETAIL = json_build_object('expected', p_expected, 'actual', coalesce(v_actual, 0))::text;
      END IF;

      -- 4. Append.
      RETURN QUERY
      WITH inserted AS (
        INSERT INTO events (stream_id, stream_type, stream_version, event_id, event_type, schema_version, data, metadata)
        SELECT p_stream_id, p_stream_type, v_previous + p.ord, p.event_id, p.event_type, p.schema_version, p.data, p.metadata
          FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_data, p_metadata)
               WITH ORDINALITY AS p(event_id, event_type, schema_version, data, metadata, ord)
        RETURNING global_position
      )
      SELECT v_previous + n, min(i.global_position), max(i.global_position), false FROM inserted i;
      -- No NOTIFY here: it takes a database-wide lock at commit and serialises every appender.
      -- The store coalesces notifications per process instead (eventstore/notifier.ts).
    END
    $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS append_events(text, text, text, uuid[], text[], integer[], jsonb[], jsonb[])');
  await knex.raw('DROP TABLE IF EXISTS events');
  await knex.raw('DROP TABLE IF EXISTS streams');
}
