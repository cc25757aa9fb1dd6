-- Answers given in Label Studio: the annotator's account there is how the reviewer was identified
-- ('label-studio'), beside the methods of 018_identity_methods.sql.
ALTER TABLE labels DROP CONSTRAINT labels_verified_by_check;
ALTER TABLE labels ADD CONSTRAINT labels_verified_by_check
  CHECK (verified_by ~ '^(jwt|trusted-proxy|api-key|label-studio|unverified|system)(\+(jwt|trusted-proxy|api-key|label-studio|unverified|system))*$');

ALTER TABLE label_votes DROP CONSTRAINT label_votes_verified_by_check;
ALTER TABLE label_votes ADD CONSTRAINT label_votes_verified_by_check
  CHECK (verified_by IN ('jwt', 'trusted-proxy', 'api-key', 'label-studio', 'unverified'));
