-- Notifications: the claim step, the retry schedule and what the sweeper needs.

-- `claimed_at` is set (in its own transaction) just before a send and cleared with
-- the outcome: a request redelivered after a crash mid-send finds the claim and does
-- not send again; the sweeper re-drives claims older than its grace period.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS claimed_at timestamptz;
-- When the next attempt of a THROTTLED notification is due (its retry-tier record).
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS due_at timestamptz;
-- Enough to rebuild the request when the sweeper re-drives it.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS sender_service_id text;

CREATE INDEX IF NOT EXISTS notifications_stuck_idx
    ON notifications ((COALESCE(claimed_at, due_at, updated_at)))
    WHERE status = 'THROTTLED';

-- Callbacks settled (delivered, or refused for good), so the retry-tier copy that
-- backs every first attempt is skipped. Key: service id + hash of the event bytes.
CREATE TABLE IF NOT EXISTS callback_deliveries (
    event_key   text PRIMARY KEY,
    outcome     text NOT NULL,
    settled_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS callback_deliveries_settled_idx ON callback_deliveries (settled_at);
