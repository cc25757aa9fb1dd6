-- The production log's rows must name a registered model. The foreign key checked that a row at a time
-- (a query and a row lock for each: about a third of Postgres's CPU when a million rows are copied into
-- the log); these triggers check it once a statement, over the statement's new rows, taking the same lock
-- (FOR KEY SHARE) on each model named, and refuse to delete a model or change its ID while the log holds
-- its rows, as the key did, with the key's SQLSTATE (23503). The checks run after the rows are written, as
-- the key's did, so a model deleted meanwhile is seen. SECURITY DEFINER: locking a model's row needs more
-- than the gateway's SELECT, as the key's own checks ran as the tables' owner; so the tables are named with
-- their schema and pg_temp is searched last, and no session's temporary table can stand in for them.
ALTER TABLE records DROP CONSTRAINT records_model_id_fkey;

CREATE FUNCTION records_name_models() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing text;
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    SELECT n.model_id INTO missing
    FROM (SELECT DISTINCT model_id FROM new_records) n
    LEFT JOIN LATERAL (SELECT true AS found FROM public.models m WHERE m.model_id = n.model_id FOR KEY SHARE) m ON true
    WHERE m.found IS NULL
    LIMIT 1;
  ELSE
    PERFORM 1 FROM public.models WHERE model_id = NEW.model_id FOR KEY SHARE;
    IF NOT FOUND THEN missing := NEW.model_id; END IF;
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'records: no model "%"; a row of the production log must name a registered model', missing
      USING ERRCODE = '23503', HINT = 'register the model first (remedy models register)';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER records_name_models AFTER INSERT ON records
  REFERENCING NEW TABLE AS new_records
  FOR EACH STATEMENT EXECUTE FUNCTION records_name_models();
CREATE TRIGGER records_name_models_on_update AFTER UPDATE OF model_id ON records
  FOR EACH ROW WHEN (OLD.model_id IS DISTINCT FROM NEW.model_id) EXECUTE FUNCTION records_name_models();

-- Only in READ COMMITTED does the check below see rows that a concurrent transaction committed after this
-- one began (the key read them with a snapshot of its own); so a model is deleted or renamed only there.
CREATE FUNCTION models_keep_logged() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_LEVEL = 'STATEMENT' THEN
    IF EXISTS (SELECT 1 FROM public.records) THEN
      RAISE EXCEPTION 'models: the production log (records) still has rows; truncate it in the same statement'
        USING ERRCODE = '23503';
    END IF;
    RETURN NULL;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'models: "%" can be deleted or renamed only in a READ COMMITTED transaction', OLD.model_id
      USING ERRCODE = '55000', HINT = 'run it outside a REPEATABLE READ or SERIALIZABLE transaction';
  END IF;
  IF EXISTS (SELECT 1 FROM public.records WHERE model_id = OLD.model_id) THEN
    RAISE EXCEPTION 'models: "%" still has rows in the production log (records); it cannot be deleted or renamed', OLD.model_id
      USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER models_keep_logged AFTER DELETE ON models
  FOR EACH ROW EXECUTE FUNCTION models_keep_logged();
CREATE TRIGGER models_keep_logged_on_update AFTER UPDATE OF model_id ON models
  FOR EACH ROW WHEN (OLD.model_id IS DISTINCT FROM NEW.model_id) EXECUTE FUNCTION models_keep_logged();
CREATE TRIGGER models_keep_logged_on_truncate AFTER TRUNCATE ON models
  FOR EACH STATEMENT EXECUTE FUNCTION models_keep_logged();
