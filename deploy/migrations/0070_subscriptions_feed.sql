-- IO's subscriptions feed (issue 27): the citizens who subscribed to or unsubscribed
-- from a service on a UTC day, served as hashes of their fiscal codes.

-- The platform allows a service to read its feed (a hash of a fiscal code is easy to
-- reverse): off by default.
ALTER TABLE services ADD COLUMN IF NOT EXISTS subscriptions_feed boolean NOT NULL DEFAULT false;

-- The net change of each day, written in the same transaction as the preference or
-- profile change that made it. `scope` is a service id, or '' for the whole profile
-- (created, deleted, inbox on or off). A change undone on the same day deletes the
-- row (net nothing). Only the hash is kept, so a deleted profile's last day still
-- shows in the feed without its fiscal code; rows older than the feed's retention
-- are pruned by the ingress.
CREATE TABLE IF NOT EXISTS subscription_changes (
    day               date NOT NULL,
    scope             text NOT NULL,
    fiscal_code_hash  text NOT NULL CHECK (fiscal_code_hash ~ '^[0-9a-f]{64}$'),
    kind              text NOT NULL CHECK (kind IN ('SUBSCRIBED', 'UNSUBSCRIBED')),
    at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, scope, fiscal_code_hash)
);
