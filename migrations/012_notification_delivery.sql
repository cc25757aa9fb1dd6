-- Notifications delivered: besides the labeling kinds, the cycle's own events (started, closed, a
-- data-quality incident, a rollback, an inconclusive pause, an approval waiting), each with the model and
-- cycle it concerns and its details. A row is written by the activity that runs at that moment, together
-- with one delivery per channel of the model's policy (notifications.channels) that wants the kind.
ALTER TABLE notifications
  ALTER COLUMN campaign_id DROP NOT NULL,
  ADD COLUMN model_id text,
  ADD COLUMN cycle_id text,
  ADD COLUMN details jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_check
  CHECK (kind IN ('reminder', 'escalation', 'parked', 'decision', 'extended', 'batch',
                  'cycle-started', 'cycle-closed', 'data-quality', 'rollback', 'paused', 'approval-waiting'));
CREATE INDEX notifications_cycle ON notifications (cycle_id, created_at) WHERE cycle_id IS NOT NULL;

-- The outbox: one row per notification per channel. The worker's delivery loop claims due rows
-- (FOR UPDATE SKIP LOCKED), pushing next_attempt_at one lease ahead and counting the attempt before it
-- sends; a worker that dies mid-send leaves the row to be claimed again once the lease is over, and the
-- resend carries the same Idempotency-Key (notification id + channel). `target` is the channel as the
-- policy described it when the event happened: a URL and the NAMES of the environment variables that
-- hold its secrets, never a secret.
CREATE TABLE notification_deliveries (
  notification_id bigint NOT NULL REFERENCES notifications(notification_id),
  channel         text NOT NULL,
  target          jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (notification_id, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'pending';
