-- What Remedy told people: labeling reminders, escalations, parked campaigns. One row per event key, so a
-- retried activity notifies once. A deployment forwards these (mail, chat) from here.
CREATE TABLE notifications (
  notification_id bigserial PRIMARY KEY,
  event_key    text NOT NULL UNIQUE,
  campaign_id  text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('reminder', 'escalation', 'parked', 'decision', 'extended')),
  recipients   jsonb NOT NULL,
  message      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_campaign ON notifications (campaign_id, created_at);
