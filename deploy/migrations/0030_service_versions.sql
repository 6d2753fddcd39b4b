-- IO services as IO runs them (issue 13): versioned services with a publication
-- record, the service card, primary and secondary keys, the eu_covid_cert
-- entitlement, remote content, and the upstream quota ledger.

-- The working version: `services` keeps being the row the back-office edits. Its
-- `state` is the working version's, `version` its number (a content edit of an
-- approved version starts the next one). `published` is the publication's flag.
ALTER TABLE services ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1;
-- The service card (IO's ValidService: complete when description >= 20 characters,
-- an https privacy_url, a scope and at least one contact).
ALTER TABLE services ADD COLUMN IF NOT EXISTS description text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS privacy_url text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS scope text
    CHECK (scope IS NULL OR scope IN ('NATIONAL', 'LOCAL'));
ALTER TABLE services ADD COLUMN IF NOT EXISTS email text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS pec text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS phone text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS support_url text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS eu_covid_cert boolean NOT NULL DEFAULT false;
-- `api_key_hash` is the primary key's hash; the secondary works alongside it.
ALTER TABLE services ADD COLUMN IF NOT EXISTS secondary_key_hash bytea UNIQUE;
-- Remote content (docs/integrators/remote-content.md): where and how Postino calls the sender. The key is
-- a secret like `callback_secret`: written by the back-office, never shown again.
ALTER TABLE services ADD COLUMN IF NOT EXISTS remote_content_base_url text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS remote_content_header_key_name text;
ALTER TABLE services ADD COLUMN IF NOT EXISTS remote_content_key text;

-- The publication record: a copy of the last approved version's reviewed content.
-- While `services.published`, senders and citizens see this copy, whatever the
-- working version says; approving the next version replaces it.
CREATE TABLE IF NOT EXISTS service_publications (
    service_id                  text PRIMARY KEY,
    version                     integer NOT NULL,
    name                        text NOT NULL,
    organization_name           text NOT NULL,
    organization_fiscal_code    text NOT NULL,
    premium                     boolean NOT NULL,
    payments                    boolean NOT NULL,
    max_allowed_payment_amount  bigint NOT NULL,
    authorized_recipients       text[] NOT NULL,
    require_secure_channels     boolean NOT NULL,
    eu_covid_cert               boolean NOT NULL,
    description                 text,
    privacy_url                 text,
    scope                       text,
    email                       text,
    pec                         text,
    phone                       text,
    support_url                 text,
    approved_at                 timestamptz NOT NULL DEFAULT now()
);

-- Existing approved services keep serving exactly as they are: their current data
-- becomes their published copy (a card may be incomplete: it was approved before
-- cards existed, and the card is checked at their next review).
INSERT INTO service_publications (
    service_id, version, name, organization_name, organization_fiscal_code, premium,
    payments, max_allowed_payment_amount, authorized_recipients, require_secure_channels,
    eu_covid_cert, approved_at)
SELECT id, version, name, organization_name, organization_fiscal_code, premium, payments,
       max_allowed_payment_amount, authorized_recipients, require_secure_channels,
       eu_covid_cert, updated_at
FROM services WHERE state = 'approved'
ON CONFLICT (service_id) DO NOTHING;

CREATE INDEX IF NOT EXISTS services_org_idx ON services (organization_fiscal_code, id);

-- Upstream records admitted against the daily quota, one row per message id, so a
-- redone deliver batch (or a replay of an admitted record) is never counted twice.
CREATE TABLE IF NOT EXISTS upstream_admissions (
    message_id  text PRIMARY KEY,
    service_id  text NOT NULL,
    day         date NOT NULL
);
CREATE INDEX IF NOT EXISTS upstream_admissions_day_idx ON upstream_admissions (day);
