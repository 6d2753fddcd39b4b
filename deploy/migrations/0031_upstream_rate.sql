-- Upstream records are also held to the per-second rate: each admission keeps the
-- second of its record's timestamp, counted per service and second.
ALTER TABLE upstream_admissions ADD COLUMN IF NOT EXISTS second bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS upstream_admissions_rate_idx ON upstream_admissions (service_id, second);
