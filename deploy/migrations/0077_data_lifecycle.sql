-- Data lifecycle (issue 27): content retention, and a citizen's erasure.
--
-- An erased message keeps its id, service, dates and statuses; its content, payment
-- data and fiscal code go. So the fiscal code of a message (and of its notifications)
-- may now be NULL.
ALTER TABLE messages ALTER COLUMN fiscal_code DROP NOT NULL;
ALTER TABLE notifications ALTER COLUMN fiscal_code DROP NOT NULL;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS content_erased_at timestamptz;

-- The eraser's batches: the oldest messages not yet erased. Erased rows leave the
-- index, so every batch starts at the first row it has to erase.
CREATE INDEX IF NOT EXISTS messages_retention_idx
    ON messages (created_at) WHERE content_erased_at IS NULL;
