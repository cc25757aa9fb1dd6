-- Cooldown and budget: a trigger that would have started a cycle but was held back is kept as evidence
-- with the reason, and no cycle. `decided_at` is the triggering workflow's clock (the budget counts
-- starts by it); rows from before this migration use their insertion time.
ALTER TABLE cycle_triggers ALTER COLUMN cycle_id DROP NOT NULL;
ALTER TABLE cycle_triggers ADD COLUMN suppressed text;
ALTER TABLE cycle_triggers ADD COLUMN decided_at timestamptz;
UPDATE cycle_triggers SET decided_at = created_at;
ALTER TABLE cycle_triggers ALTER COLUMN decided_at SET DEFAULT now();
ALTER TABLE cycle_triggers ALTER COLUMN decided_at SET NOT NULL;
ALTER TABLE cycle_triggers ADD CONSTRAINT cycle_triggers_cycle_or_suppressed
  CHECK ((cycle_id IS NULL) = (suppressed IS NOT NULL));
CREATE INDEX cycle_triggers_model_decided ON cycle_triggers (model_id, decided_at) WHERE started;
