-- A tamper-evident audit trail. Each event is chained to the previous event of its model (chain_key:
-- the model ID, '' for events of no model) by a SHA-256 over the previous hash and the event's content;
-- audit_heads keeps each chain's last event and count, so a deleted tail shows too. Both are written
-- only by a trigger that runs as the schema owner (SECURITY DEFINER): the application's roles insert
-- events and cannot touch audit_heads, and nobody may UPDATE, DELETE or TRUNCATE audit_events.
-- `remedy audit verify <model>` recomputes the chain (db/audit-chain.ts).

ALTER TABLE audit_events
  ADD COLUMN chain_key text,
  ADD COLUMN prev_event_id bigint,
  ADD COLUMN prev_hash text,
  ADD COLUMN hash text;

CREATE TABLE audit_heads (
  chain_key     text PRIMARY KEY,
  last_event_id bigint NOT NULL,
  hash          text NOT NULL,
  events        bigint NOT NULL
);

-- The hash of one event given the previous event's hash (NULL for a chain's first event). Every field a
-- person reads is covered; `at` to the microsecond, `details` in jsonb's canonical text form.
CREATE FUNCTION audit_event_hash(prev text, e audit_events) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(concat_ws(chr(31),
    coalesce(prev, 'genesis'), e.event_id::text, e.idempotency_key, coalesce(e.cycle_id, ''),
    coalesce(e.model_id, ''), e.actor, e.action, e.details::text,
    (extract(epoch FROM e.at) * 1000000)::bigint::text), 'UTF8')), 'hex')
$$;

-- Links the event to its chain. An insert that will be discarded by ON CONFLICT (idempotency_key) DO
-- NOTHING (an activity's retry) leaves the chain alone: the BEFORE trigger runs before the conflict check.
CREATE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head audit_heads%ROWTYPE;
BEGIN
  NEW.chain_key := coalesce(NEW.model_id, '');
  -- One writer per chain at a time; the queries below see what the previous writer committed.
  PERFORM pg_advisory_xact_lock(hashtextextended('remedy.audit:' || NEW.chain_key, 0));
  IF EXISTS (SELECT 1 FROM audit_events WHERE idempotency_key = NEW.idempotency_key) THEN
    NEW.hash := ''; -- NOT NULL is checked before the conflict discards this row
    RETURN NEW;
  END IF;
  SELECT * INTO head FROM audit_heads WHERE chain_key = NEW.chain_key;
  NEW.prev_event_id := head.last_event_id;
  NEW.prev_hash := head.hash;
  NEW.hash := audit_event_hash(head.hash, NEW);
  INSERT INTO audit_heads (chain_key, last_event_id, hash, events)
    VALUES (NEW.chain_key, NEW.event_id, NEW.hash, 1)
    ON CONFLICT (chain_key) DO UPDATE
      SET last_event_id = EXCLUDED.last_event_id, hash = EXCLUDED.hash, events = audit_heads.events + 1;
  RETURN NEW;
END
$$;

-- The events recorded before this migration, chained in the order they were written.
DO $$
DECLARE
  r audit_events%ROWTYPE;
  head audit_heads%ROWTYPE;
  h text;
BEGIN
  FOR r IN SELECT * FROM audit_events ORDER BY event_id LOOP
    head := NULL;
    SELECT * INTO head FROM audit_heads WHERE chain_key = coalesce(r.model_id, '');
    h := audit_event_hash(head.hash, r);
    UPDATE audit_events
      SET chain_key = coalesce(r.model_id, ''), prev_event_id = head.last_event_id, prev_hash = head.hash, hash = h
      WHERE event_id = r.event_id;
    INSERT INTO audit_heads (chain_key, last_event_id, hash, events)
      VALUES (coalesce(r.model_id, ''), r.event_id, h, 1)
      ON CONFLICT (chain_key) DO UPDATE
        SET last_event_id = EXCLUDED.last_event_id, hash = EXCLUDED.hash, events = audit_heads.events + 1;
  END LOOP;
END
$$;

ALTER TABLE audit_events ALTER COLUMN chain_key SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
CREATE INDEX audit_events_chain ON audit_events (chain_key, event_id);

CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = '42501', HINT = 'audit events are never changed or removed; record a new event instead';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
