-- Every registered definition of a model (features, label set, policy) as an immutable version, with
-- who registered it and what changed from the version before. A cycle pins the version it started with.
CREATE TABLE policy_versions (
  model_id    text NOT NULL REFERENCES models(model_id),
  version     integer NOT NULL CHECK (version > 0),
  policy      jsonb NOT NULL,
  author      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- [{path, before, after}] against the previous version; empty for the first.
  diff        jsonb NOT NULL DEFAULT '[]'::jsonb,
  PRIMARY KEY (model_id, version)
);
-- Models registered before versions existed start at version 1, as they are now.
INSERT INTO policy_versions (model_id, version, policy, author, created_at)
SELECT model_id, 1, jsonb_build_object('labelSet', label_set, 'features', feature_spec, 'policy', policy),
       'unknown (registered before policy versions)', created_at
FROM models;

ALTER TABLE cycles ADD COLUMN policy_version integer;
