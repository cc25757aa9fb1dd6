-- The serving gateway at production volume (issue 16) and with credentials on its write endpoints (21).
--
-- api_clients: one row per client allowed to write to the gateway (feedback, corrections, and predict
-- where configured). Only the SHA-256 of a key is stored; the key itself is printed once, at creation.
-- A revoked client keeps its row so the feedback it sent still names it.
CREATE TABLE api_clients (
  client_id  text PRIMARY KEY,
  key_hash   text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Which client sent a record's feedback (NULL: sent before credentials, or with the gateway's auth off).
ALTER TABLE records ADD COLUMN feedback_client text;

-- The gateway caches each model's traffic split and its credentials in memory; these notifications tell
-- every gateway replica at once that a split (a rollout step, a rollback) or a client changed.
CREATE FUNCTION remedy_notify_traffic() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('remedy_traffic', CASE WHEN TG_OP = 'DELETE' THEN OLD.model_id ELSE NEW.model_id END);
  RETURN NULL;
END
$$;
CREATE TRIGGER traffic_weights_notify AFTER INSERT OR UPDATE OR DELETE ON traffic_weights
  FOR EACH ROW EXECUTE FUNCTION remedy_notify_traffic();
CREATE TRIGGER model_aliases_notify AFTER INSERT OR UPDATE OR DELETE ON model_aliases
  FOR EACH ROW EXECUTE FUNCTION remedy_notify_traffic();

CREATE FUNCTION remedy_notify_clients() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('remedy_clients', CASE WHEN TG_OP = 'DELETE' THEN OLD.client_id ELSE NEW.client_id END);
  RETURN NULL;
END
$$;
CREATE TRIGGER api_clients_notify AFTER INSERT OR UPDATE OR DELETE ON api_clients
  FOR EACH ROW EXECUTE FUNCTION remedy_notify_clients();
