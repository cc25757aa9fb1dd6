-- Rows of a file being ingested (`remedy ingest`): checked in the CLI, streamed here with COPY, then added
-- to records in one INSERT … ON CONFLICT DO NOTHING. The table is filled and emptied inside a single
-- transaction, so no other session ever sees its rows (MVCC) and concurrent ingests do not meet; UNLOGGED
-- because nothing in it has to survive a crash. A permanent table rather than a temporary one, because
-- the application's roles may not create temporary tables (docs/database-roles.md).
CREATE UNLOGGED TABLE ingest_staging (
  line       integer NOT NULL,
  record_key text NOT NULL,
  ts         timestamptz NOT NULL,
  features   jsonb NOT NULL,
  feedback   text
);
