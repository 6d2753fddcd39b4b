-- The citizen's service catalogue (issue 27) filters published services by topic and
-- scope. `topic_id` is IO's `metadata.topic_id` (the CMS migration adds the same
-- columns; either may run first).
ALTER TABLE services ADD COLUMN IF NOT EXISTS topic_id integer;
ALTER TABLE service_publications ADD COLUMN IF NOT EXISTS topic_id integer;
CREATE INDEX IF NOT EXISTS services_published_idx ON services (id) WHERE published;
