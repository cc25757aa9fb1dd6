-- Monitoring: drift checks over successive windows, the monitors that schedule them, and the triggers
-- that started a cycle or were attached to a running one as evidence.

CREATE TABLE monitors (
  model_id    text PRIMARY KEY REFERENCES models(model_id),
  -- clock: each check looks at the window that ends at its scheduled time; cursor: each check looks at
  -- the next window after the last one checked, once the log holds records past its end (backfills,
  -- replays of historical traffic).
  mode        text NOT NULL CHECK (mode IN ('clock', 'cursor')),
  window_ms   bigint NOT NULL CHECK (window_ms > 0),
  next_start  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE drift_checks (
  check_id          bigserial PRIMARY KEY,
  -- The check workflow's ID: a retried activity finds its own row instead of adding a second one.
  check_key         text NOT NULL UNIQUE,
  model_id          text NOT NULL REFERENCES models(model_id),
  reference_version integer NOT NULL,
  window_start      timestamptz NOT NULL,
  window_end        timestamptz NOT NULL,
  report            jsonb NOT NULL,
  diagnosis         jsonb NOT NULL,
  route             text NOT NULL,
  actionable        boolean NOT NULL,
  -- Consecutive actionable windows up to and including this one (same reference version).
  streak            integer NOT NULL,
  persistent        boolean NOT NULL,
  cycle_id          text,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX drift_checks_model_window ON drift_checks (model_id, reference_version, window_end);

CREATE TABLE cycle_triggers (
  trigger_id   bigserial PRIMARY KEY,
  trigger_key  text NOT NULL UNIQUE,
  model_id     text NOT NULL REFERENCES models(model_id),
  cycle_id     text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('manual', 'drift', 'volume', 'schedule')),
  -- true: this trigger started the cycle; false: a cycle was running and this was attached as evidence.
  started      boolean NOT NULL,
  evidence     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cycle_triggers_cycle ON cycle_triggers (cycle_id);
