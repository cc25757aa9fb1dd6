-- Remedy's system of record. Every table an activity writes to carries a key that makes a retried
-- write a no-op (primary key or unique idempotency key), because Temporal runs activities at least once.

CREATE TABLE models (
  model_id      text PRIMARY KEY,
  label_set     text[] NOT NULL,
  feature_spec  jsonb NOT NULL,
  policy        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- The production log: one row per request the model saw, with its features and, once it arrives,
-- the delayed ground truth (feedback). Fed by the gateway or by `remedy ingest`.
CREATE TABLE records (
  model_id      text NOT NULL REFERENCES models(model_id),
  record_key    text NOT NULL,
  ts            timestamptz NOT NULL,
  features      jsonb NOT NULL,
  feedback      text,
  feedback_at   timestamptz,
  PRIMARY KEY (model_id, record_key)
);
CREATE INDEX records_model_ts ON records (model_id, ts);

CREATE TABLE dataset_versions (
  dataset_id      bigserial PRIMARY KEY,
  model_id        text NOT NULL REFERENCES models(model_id),
  idempotency_key text NOT NULL UNIQUE,
  parent_id       bigint REFERENCES dataset_versions(dataset_id),
  kind            text NOT NULL CHECK (kind IN ('reference', 'collected', 'labeled')),
  cycle_id        text,
  window_start    timestamptz,
  window_end      timestamptz,
  sampling_plan   jsonb NOT NULL DEFAULT '{}'::jsonb,
  content_hash    text NOT NULL,
  row_count       integer NOT NULL,
  labeled_count   integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Rows are immutable once written: a dataset version is a frozen snapshot (lineage via parent_id).
CREATE TABLE dataset_rows (
  dataset_id    bigint NOT NULL REFERENCES dataset_versions(dataset_id),
  record_key    text NOT NULL,
  ts            timestamptz NOT NULL,
  features      jsonb NOT NULL,
  label         text,
  label_source  text CHECK (label_source IN ('feedback', 'human', 'auto', 'reference')),
  split         text NOT NULL CHECK (split IN ('train', 'holdout')),
  PRIMARY KEY (dataset_id, record_key)
);

CREATE TABLE model_versions (
  model_id        text NOT NULL REFERENCES models(model_id),
  version         integer NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('champion', 'candidate', 'retired', 'rejected', 'rolled_back')),
  dataset_id      bigint REFERENCES dataset_versions(dataset_id),
  cycle_id        text,
  config_hash     text NOT NULL,
  code_version    text NOT NULL,
  artifact        jsonb NOT NULL,
  artifact_sha256 text NOT NULL,
  metrics         jsonb NOT NULL DEFAULT '{}'::jsonb,
  evidence        jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, version)
);

CREATE TABLE model_aliases (
  model_id    text NOT NULL REFERENCES models(model_id),
  alias       text NOT NULL CHECK (alias IN ('champion', 'candidate')),
  version     integer NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version)
);

-- Drift reference per model version, computed once so a check scans only the current window.
CREATE TABLE reference_profiles (
  model_id    text NOT NULL,
  version     integer NOT NULL,
  profile     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, version),
  FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version)
);

CREATE TABLE cycles (
  cycle_id    text PRIMARY KEY,
  model_id    text NOT NULL REFERENCES models(model_id),
  stage       text NOT NULL,
  outcome     text,
  summary     jsonb NOT NULL DEFAULT '{}'::jsonb,
  started_at  timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz
);
-- One open cycle per model, whatever the workflow ID: the database refuses a second one.
CREATE UNIQUE INDEX cycles_one_open_per_model ON cycles (model_id) WHERE closed_at IS NULL;

CREATE TABLE drift_reports (
  report_id   bigserial PRIMARY KEY,
  model_id    text NOT NULL REFERENCES models(model_id),
  cycle_id    text NOT NULL,
  reference_version integer NOT NULL,
  window_start timestamptz NOT NULL,
  window_end  timestamptz NOT NULL,
  report      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (cycle_id)
);

CREATE TABLE label_tasks (
  campaign_id text NOT NULL,
  record_key  text NOT NULL,
  dataset_id  bigint NOT NULL REFERENCES dataset_versions(dataset_id),
  priority    integer NOT NULL,
  score       double precision,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, record_key)
);

-- One answer per item per campaign: a repeated Update or a retried activity cannot add a second.
CREATE TABLE labels (
  campaign_id text NOT NULL,
  record_key  text NOT NULL,
  label       text NOT NULL,
  reviewer    text NOT NULL,
  source      text NOT NULL CHECK (source IN ('human', 'auto')),
  answered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, record_key),
  FOREIGN KEY (campaign_id, record_key) REFERENCES label_tasks(campaign_id, record_key)
);

-- The serving split. A single row per model changed in one statement, so traffic moves atomically.
CREATE TABLE traffic_weights (
  model_id          text PRIMARY KEY REFERENCES models(model_id),
  champion_version  integer NOT NULL,
  candidate_version integer,
  candidate_weight  integer NOT NULL DEFAULT 0 CHECK (candidate_weight BETWEEN 0 AND 100),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- What the gateway served: one row per request per serving batch.
CREATE TABLE predictions (
  prediction_id bigserial PRIMARY KEY,
  model_id      text NOT NULL,
  record_key    text NOT NULL,
  batch_key     text NOT NULL,
  version       integer NOT NULL,
  predicted     text NOT NULL,
  confidence    double precision NOT NULL,
  latency_us    integer NOT NULL,
  served_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_id, batch_key, record_key),
  FOREIGN KEY (model_id, record_key) REFERENCES records(model_id, record_key)
);
CREATE INDEX predictions_model_record ON predictions (model_id, record_key);

-- One row per analysis run: a step is analysed again after a tolerated failure (failure limit).
CREATE TABLE rollout_steps (
  cycle_id    text NOT NULL,
  step_index  integer NOT NULL,
  attempt     integer NOT NULL,
  weight      integer NOT NULL,
  analysis    jsonb NOT NULL,
  decision    text NOT NULL CHECK (decision IN ('pass', 'fail', 'inconclusive')),
  decided_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (cycle_id, step_index, attempt)
);

CREATE TABLE audit_events (
  event_id        bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  cycle_id        text,
  model_id        text,
  actor           text NOT NULL,
  action          text NOT NULL,
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_cycle ON audit_events (cycle_id, event_id);
