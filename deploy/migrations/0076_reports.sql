-- Reports for senders (issue 27): a service's messages by keyset pages, newest first,
-- and its daily counts.
--
-- On a large `messages` table, build these first with CREATE INDEX CONCURRENTLY under
-- the same names: this migration then finds them and only drops the old ones.

-- The page: `WHERE sender_service_id = $1 [AND created_at in range]
-- ORDER BY created_at DESC, id DESC`, the cursor `(created_at, id) < ($2, $3)`. It
-- replaces the console's (sender_service_id, created_at DESC), a prefix of it.
-- INCLUDE: what the daily counts read, so they scan the index alone (an index-only
-- scan: no heap page for the days autovacuum has marked all-visible).
CREATE INDEX IF NOT EXISTS messages_service_page_idx
    ON messages (sender_service_id, created_at DESC, id DESC)
    INCLUDE (status, rejection_reason, failure_reason, feature_level_type, is_read,
             read_consent, paid_at);
DROP INDEX IF EXISTS messages_service_created_idx;

-- `?status=REJECTED` or `FAILED`: few rows among many, found without walking the
-- service's PROCESSED ones. (`?status=PROCESSED` walks the page index: nearly every
-- row matches.)
CREATE INDEX IF NOT EXISTS messages_service_status_idx
    ON messages (sender_service_id, status, created_at DESC, id DESC)
    WHERE status <> 'PROCESSED';

-- `?fiscal_code=`: one citizen's messages of every status. It also serves the
-- citizen's inbox (PROCESSED rows, filtered), so the inbox-only index goes.
CREATE INDEX IF NOT EXISTS messages_citizen_idx
    ON messages (fiscal_code, created_at DESC, id DESC);
DROP INDEX IF EXISTS messages_inbox_idx;

-- The daily channel outcomes: a service's MESSAGE notifications created since the
-- range's start (a notification is never older than its message), index-only, then
-- joined to the range's messages by id.
CREATE INDEX IF NOT EXISTS notifications_service_created_idx
    ON notifications (sender_service_id, created_at)
    INCLUDE (message_id, kind, channel, status);

-- Daily counts of settled days (issue 27): a UTC day's counts by status, reason and
-- channel outcome no longer change 8 days after it ends (statuses are final when
-- stored, channel outcomes within the longest time to live, 7 days), so each is
-- computed once, on the first request that needs it, and kept. Read and paid can
-- change any day: they are counted live, from the small index below.
CREATE TABLE IF NOT EXISTS service_day_counts (
    service_id   text NOT NULL,
    day          date NOT NULL,
    counts       jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, day)
);

-- The messages whose read or payment a sender may learn (`sender_events`): ADVANCED,
-- read with the citizen's consent, or paid. A small share of the table.
CREATE INDEX IF NOT EXISTS messages_shared_read_paid_idx
    ON messages (sender_service_id, created_at) INCLUDE (is_read, read_consent, paid_at)
    WHERE feature_level_type = 'ADVANCED'
      AND ((is_read AND read_consent IS TRUE) OR paid_at IS NOT NULL);
