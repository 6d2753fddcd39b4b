-- Public bodies run their own services the IO way (issue 27): organisations and their
-- manage keys, IO's service metadata, the history of every back-office action, the
-- services' logos, and the notices Postino e-mails to a body.

-- A public body, registered by the platform. `email` is its contact for notices.
CREATE TABLE IF NOT EXISTS organizations (
    fiscal_code  text PRIMARY KEY CHECK (fiscal_code ~ '^[0-9]{11}$'),
    name         text NOT NULL,
    email        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A body's manage keys (IO's ManageSubscriptionKey), stored as SHA-256 hashes like
-- the services' keys. A body holds at most two live keys (rotation), checked with its
-- organisation row locked. A revoked key stays listed (who did what keeps its name).
CREATE TABLE IF NOT EXISTS manage_keys (
    id                        text PRIMARY KEY,
    organization_fiscal_code  text NOT NULL REFERENCES organizations (fiscal_code),
    key_hash                  bytea NOT NULL UNIQUE,
    created_at                timestamptz NOT NULL DEFAULT now(),
    revoked_at                timestamptz
);
CREATE INDEX IF NOT EXISTS manage_keys_org_idx ON manage_keys (organization_fiscal_code);

-- IO's service metadata beyond the card of 0030 (reviewed content: the published
-- copy keeps its own).
ALTER TABLE services ADD COLUMN IF NOT EXISTS topic_id integer;
ALTER TABLE services ADD COLUMN IF NOT EXISTS department_name text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS web_url text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS app_ios text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS app_android text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS tos_url text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS address text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS cta text;
-- IO's review request `auto_publish`: publish on approval.
ALTER TABLE services ADD COLUMN IF NOT EXISTS auto_publish boolean NOT NULL DEFAULT false;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS topic_id integer;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS department_name text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS web_url text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS app_ios text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS app_android text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS tos_url text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS address text;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS cta text;

-- Every back-office action on a service, with who did it: `actor_kind` admin (the
-- platform token), manage_key (`actor_id` the key's id) or system (Postino itself,
-- e.g. a notice). `kind` and `status` are IO's history status (lifecycle or
-- publication, and the value after the action); `service` the service as it was
-- after the action (IO's history items carry the service data).
CREATE TABLE IF NOT EXISTS service_history (
    id          bigserial PRIMARY KEY,
    service_id  text NOT NULL,
    at          timestamptz NOT NULL,
    action      text NOT NULL,
    actor_kind  text NOT NULL CHECK (actor_kind IN ('admin', 'manage_key', 'system')),
    actor_id    text,
    kind        text NOT NULL CHECK (kind IN ('lifecycle', 'publication')),
    status      text NOT NULL,
    reason      text,
    version     integer NOT NULL,
    service     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS service_history_service_idx ON service_history (service_id, id);

-- A service's logo (IO's `Logo`: a PNG), validated and size-capped before it is kept.
CREATE TABLE IF NOT EXISTS service_logos (
    service_id  text PRIMARY KEY,
    png         bytea NOT NULL,
    sha256      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Notices to a body: at most one per kind (and subject, e.g. the day of a quota) per
-- service per hour. The gate row is the unique key that says so: an upsert moves
-- `last_at` only when the previous notice is an hour old, atomically.
CREATE TABLE IF NOT EXISTS notice_gates (
    service_id  text NOT NULL,
    gate        text NOT NULL,
    last_at     timestamptz NOT NULL,
    PRIMARY KEY (service_id, gate)
);

-- The outbox of notices: written with the change that caused them, sent afterwards
-- (each send recorded as it happens; a lease keeps two senders off one notice).
CREATE TABLE IF NOT EXISTS service_notices (
    id            text PRIMARY KEY,
    service_id    text NOT NULL,
    kind          text NOT NULL,
    created_at    timestamptz NOT NULL,
    recipients    text[] NOT NULL,
    subject       text NOT NULL,
    body          text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'no_recipient')),
    attempts      integer NOT NULL DEFAULT 0,
    next_at       timestamptz NOT NULL,
    lease_until   timestamptz,
    sent_at       timestamptz,
    last_error    text
);
CREATE INDEX IF NOT EXISTS service_notices_due_idx ON service_notices (next_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS service_notices_service_idx ON service_notices (service_id, created_at);

-- Callback health per service, merged from the callbacks processes' in-memory
-- counts (one upsert per flush, never one query per event). `failing_since`: the
-- first failure after the last success (null while healthy); `alerted`: the
-- "failing" notice went out and the "recovered" one is owed.
CREATE TABLE IF NOT EXISTS callback_health (
    service_id       text PRIMARY KEY,
    failing_since    timestamptz,
    last_failure_at  timestamptz,
    last_success_at  timestamptz,
    alerted          boolean NOT NULL DEFAULT false
);
