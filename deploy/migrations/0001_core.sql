-- Postino core schema. Every row has a deterministic key so that a redone batch
-- writes nothing twice (INSERT ... ON CONFLICT).

CREATE TABLE services (
    id                          text PRIMARY KEY,
    name                        text NOT NULL,
    organization_name           text NOT NULL,
    organization_fiscal_code    text NOT NULL,
    state                       text NOT NULL DEFAULT 'draft'
        CHECK (state IN ('draft', 'submitted', 'approved', 'rejected', 'deleted')),
    published                   boolean NOT NULL DEFAULT false,
    reject_reason               text,
    api_key_hash                bytea NOT NULL UNIQUE,
    premium                     boolean NOT NULL DEFAULT false,
    payments                    boolean NOT NULL DEFAULT false,
    max_allowed_payment_amount  bigint NOT NULL DEFAULT 1000000,
    authorized_recipients       text[] NOT NULL DEFAULT '{}',
    authorized_cidrs            text[] NOT NULL DEFAULT '{}',
    require_secure_channels     boolean NOT NULL DEFAULT false,
    callback_url                text,
    callback_secret             text,
    rate_per_second             integer,
    daily_quota                 integer,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE profiles (
    fiscal_code          text PRIMARY KEY,
    inbox_enabled        boolean NOT NULL DEFAULT true,
    push_enabled         boolean NOT NULL DEFAULT true,
    email                text,
    email_validated      boolean NOT NULL DEFAULT false,
    email_enabled        boolean NOT NULL DEFAULT true,
    preferences_mode     text NOT NULL DEFAULT 'AUTO'
        CHECK (preferences_mode IN ('LEGACY', 'AUTO', 'MANUAL')),
    -- LEGACY mode: service id -> list of blocked channels (INBOX, EMAIL, PUSH)
    blocked_channels     jsonb NOT NULL DEFAULT '{}',
    reminder_consent     text NOT NULL DEFAULT 'UNSET'
        CHECK (reminder_consent IN ('ENABLED', 'DISABLED', 'UNSET')),
    preferred_languages  text[] NOT NULL DEFAULT '{it_IT}',
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE service_preferences (
    fiscal_code                     text NOT NULL,
    service_id                      text NOT NULL,
    is_inbox_enabled                boolean NOT NULL DEFAULT true,
    is_push_enabled                 boolean NOT NULL DEFAULT true,
    is_email_enabled                boolean NOT NULL DEFAULT true,
    can_access_message_read_status  boolean NOT NULL DEFAULT true,
    updated_at                      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fiscal_code, service_id)
);

-- The inbox. Rejected and failed messages are kept (not shown to the citizen).
CREATE TABLE messages (
    id                  text PRIMARY KEY,
    fiscal_code         text NOT NULL,
    sender_service_id   text NOT NULL,
    created_at          timestamptz NOT NULL,
    time_to_live        integer NOT NULL,
    feature_level_type  text NOT NULL,
    content             jsonb NOT NULL,
    status              text NOT NULL CHECK (status IN ('PROCESSED', 'REJECTED', 'FAILED')),
    rejection_reason    text,
    failure_reason      text,
    is_read             boolean NOT NULL DEFAULT false,
    read_at             timestamptz,
    is_archived         boolean NOT NULL DEFAULT false,
    rpt_id              text,
    due_date            timestamptz,
    paid_at             timestamptz,
    -- last sequence number given to a status event of this message
    status_seq          integer NOT NULL DEFAULT 1,
    processed_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_inbox_idx ON messages (fiscal_code, created_at DESC, id DESC)
    WHERE status = 'PROCESSED';
CREATE INDEX messages_rpt_id_idx ON messages (rpt_id) WHERE rpt_id IS NOT NULL;

-- One row per (message, channel, kind); id derived from the three.
CREATE TABLE notifications (
    id              text PRIMARY KEY,
    message_id      text NOT NULL,
    fiscal_code     text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('PUSH', 'EMAIL')),
    kind            text NOT NULL,
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    deadline        timestamptz NOT NULL,
    status_seq      integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_message_idx ON notifications (message_id);
CREATE INDEX notifications_open_idx ON notifications (updated_at) WHERE status = 'THROTTLED';

-- Reconciled pagoPA events, kept so a payment that arrives first still counts.
CREATE TABLE payments (
    event_id       text PRIMARY KEY,
    rpt_id         text NOT NULL,
    paid_at        timestamptz,
    amount         text,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_rpt_id_idx ON payments (rpt_id);

-- Premium reminders sent (or decided), one row per reminder.
CREATE TABLE reminders (
    id            text PRIMARY KEY,
    message_id    text NOT NULL,
    rpt_id        text,
    kind          text NOT NULL,
    sent_at       timestamptz NOT NULL
);
CREATE INDEX reminders_message_idx ON reminders (message_id);

CREATE TABLE citizen_sessions (
    token_hash    bytea PRIMARY KEY,
    fiscal_code   text NOT NULL,
    expires_at    timestamptz NOT NULL
);

-- Daily quota per service, shared by every ingress process.
CREATE TABLE service_usage (
    service_id  text NOT NULL,
    day         date NOT NULL,
    count       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (service_id, day)
);
