-- Premium: payments reconciliation and reminders.

-- The sequence number of the MessagePaid event, kept so that a redone batch (or a
-- duplicate pagoPA event) re-emits the identical event.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS paid_seq integer;

-- One row per reminder decided by a round. `published_at` stays NULL until the
-- broker acknowledged its notification request: the next round re-publishes the
-- rows a crash left behind (at-least-once; the notification id dedupes).
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS fiscal_code text;
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS sender_service_id text;
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS ordinal integer NOT NULL DEFAULT 1;
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS deadline timestamptz;
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS published_at timestamptz;
CREATE INDEX IF NOT EXISTS reminders_rpt_id_idx ON reminders (rpt_id) WHERE rpt_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS reminders_unpublished_idx ON reminders (sent_at)
    WHERE published_at IS NULL;

-- Candidates of a reminders round: small partial indexes over the premium messages
-- that can still get a reminder (unread without payment; unpaid notices by due date).
CREATE INDEX IF NOT EXISTS messages_reminder_unread_idx ON messages (created_at)
    WHERE feature_level_type = 'ADVANCED' AND status = 'PROCESSED'
      AND rpt_id IS NULL AND NOT is_read;
CREATE INDEX IF NOT EXISTS messages_reminder_payment_idx ON messages (due_date)
    WHERE feature_level_type = 'ADVANCED' AND status = 'PROCESSED'
      AND rpt_id IS NOT NULL AND paid_at IS NULL;

-- The payments sweeper looks at recent payments (a message and its payment that
-- arrived at the same moment can miss each other; the sweeper pays it then).
CREATE INDEX IF NOT EXISTS payments_received_idx ON payments (received_at);
