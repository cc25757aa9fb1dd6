-- A model card per candidate: what it was trained on, how it compares with the champion, which gates
-- it passed, and where it came from. Written once per version (a retried evaluation rewrites the same row).
CREATE TABLE model_cards (
  model_id    text NOT NULL,
  version     integer NOT NULL,
  cycle_id    text,
  go          boolean NOT NULL,
  markdown    text NOT NULL,
  html        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_id, version),
  FOREIGN KEY (model_id, version) REFERENCES model_versions(model_id, version)
);
