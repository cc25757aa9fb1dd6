-- The failure catalog: individual production cases flagged by the gateway and by feedback, grouped into
-- patterns; what each cycle targeted and whether the remedy worked.

CREATE TABLE failure_cases (
  case_id      bigserial PRIMARY KEY,
  model_id     text NOT NULL REFERENCES models(model_id),
  record_key   text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('low-confidence', 'out-of-distribution', 'wrong-prediction', 'user-correction', 'slow-response')),
  taxonomy     text NOT NULL CHECK (taxonomy IN ('data-quality', 'distribution-drift', 'model-error', 'deployment')),
  severity     text NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
  pattern_key  text NOT NULL,
  version      integer NOT NULL,
  features     jsonb NOT NULL,
  predicted    text NOT NULL,
  confidence   double precision NOT NULL,
  -- ground truth or the user's correction, when known
  truth        text,
  detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- the request's time (the production log's), not when it was flagged
  occurred_at  timestamptz NOT NULL,
  flagged_at   timestamptz NOT NULL DEFAULT now(),
  -- one case per request and kind: flagging twice adds nothing
  UNIQUE (model_id, record_key, kind)
);
CREATE INDEX failure_cases_pattern ON failure_cases (model_id, pattern_key, occurred_at);
CREATE INDEX failure_cases_time ON failure_cases (model_id, occurred_at);

CREATE TABLE failure_patterns (
  model_id     text NOT NULL REFERENCES models(model_id),
  pattern_key  text NOT NULL,
  taxonomy     text NOT NULL,
  description  text NOT NULL,
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'fixed', 'regressed', 'still-open')),
  last_cycle_id text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, pattern_key)
);

CREATE TABLE cycle_targets (
  cycle_id     text NOT NULL,
  model_id     text NOT NULL REFERENCES models(model_id),
  pattern_key  text NOT NULL,
  cases        integer NOT NULL,
  before_rows  integer NOT NULL,
  before_errors integer NOT NULL,
  after_version integer,
  after_rows   integer,
  after_errors integer,
  verdict      text CHECK (verdict IN ('fixed', 'regressed', 'still-open')),
  measured_at  timestamptz,
  PRIMARY KEY (cycle_id, pattern_key)
);
