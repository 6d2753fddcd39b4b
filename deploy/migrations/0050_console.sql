-- Operator console (issue 17).

-- Per-second flow: every process samples its own counters once a second and adds
-- the increments here, under its own `source`, so no two processes ever contend on
-- a row. The console sums over sources; rows older than an hour are pruned.
CREATE TABLE IF NOT EXISTS console_flow (
    bucket  timestamptz NOT NULL,
    series  text NOT NULL,
    source  text NOT NULL,
    value   double precision NOT NULL,
    PRIMARY KEY (bucket, series, source)
);

-- "Where is my message?": one row per notification or callback attempt, written by
-- notify and callbacks after each outcome. The id is deterministic, so a redone
-- batch writes nothing twice. `detail` is a first line with personal data masked.
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id           text PRIMARY KEY,
    message_id   text NOT NULL,
    at           timestamptz NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('notification', 'callback')),
    channel      text NOT NULL,
    attempt      integer NOT NULL,
    outcome      text NOT NULL,
    tier         text,
    status_code  integer,
    detail       text,
    trace_id     text
);
CREATE INDEX IF NOT EXISTS delivery_attempts_message_idx ON delivery_attempts (message_id, at);
CREATE INDEX IF NOT EXISTS delivery_attempts_at_idx ON delivery_attempts (at);

-- The admin search by service and time range.
CREATE INDEX IF NOT EXISTS messages_service_created_idx
    ON messages (sender_service_id, created_at DESC);
