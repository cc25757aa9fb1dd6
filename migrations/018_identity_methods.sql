-- How each answer's reviewer was identified, beside who and through what (`via`): a verified OIDC token
-- ('jwt'), an authenticating proxy's header ('trusted-proxy'), a gateway client's API key ('api-key'),
-- the name as typed ('unverified'), or Remedy itself ('system', the champion's own answers). A label
-- settled by several reviewers keeps their methods joined by '+' (e.g. 'jwt+unverified'), as its
-- reviewer column joins their names. Answers stored before this migration were all taken as typed.
ALTER TABLE labels ADD COLUMN verified_by text NOT NULL DEFAULT 'unverified';
UPDATE labels SET verified_by = 'system' WHERE source = 'auto';
ALTER TABLE labels ADD CONSTRAINT labels_verified_by_check
  CHECK (verified_by ~ '^(jwt|trusted-proxy|api-key|unverified|system)(\+(jwt|trusted-proxy|api-key|unverified|system))*$');

ALTER TABLE label_votes ADD COLUMN verified_by text NOT NULL DEFAULT 'unverified';
ALTER TABLE label_votes ADD CONSTRAINT label_votes_verified_by_check
  CHECK (verified_by IN ('jwt', 'trusted-proxy', 'api-key', 'unverified'));
