-- Where an answer came from (cli, review-page, api, auto) beside who gave it and when.
ALTER TABLE labels ADD COLUMN via text NOT NULL DEFAULT 'api';
