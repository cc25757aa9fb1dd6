-- Overlap: items answered by two reviewers (and a third when they disagree). Every answer is kept here,
-- one per reviewer per item; the settled label goes to `labels` as before.
CREATE TABLE label_votes (
  campaign_id text NOT NULL,
  record_key  text NOT NULL,
  reviewer    text NOT NULL,
  label       text NOT NULL,
  via         text NOT NULL DEFAULT 'api',
  answered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, record_key, reviewer),
  FOREIGN KEY (campaign_id, record_key) REFERENCES label_tasks(campaign_id, record_key)
);

-- Batched requests: reviewers are told when the next batch is out.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('reminder', 'escalation', 'parked', 'decision', 'extended', 'batch'));
