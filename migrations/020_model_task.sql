-- Regression models: what a model predicts (one of its label set, or a number) and, for a number, the
-- range it may take. Every model registered before is a classifier.
ALTER TABLE models ADD COLUMN task text NOT NULL DEFAULT 'classification'
  CHECK (task IN ('classification', 'regression'));
ALTER TABLE models ADD COLUMN target jsonb;
-- A regression model has no label set; only it has a target range.
ALTER TABLE models ADD CONSTRAINT models_regression_shape_check
  CHECK (task = 'regression' OR target IS NULL);
ALTER TABLE models ADD CONSTRAINT models_regression_labels_check
  CHECK (task = 'classification' OR cardinality(label_set) = 0);
