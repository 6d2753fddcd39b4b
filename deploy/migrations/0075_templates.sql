-- Message templates (issue 27): a service's texts with ((placeholders)), in versions.
--
-- A version is never changed once written: `PUT` adds the next one. So every ingress
-- keeps the templates in memory and refreshes them by `seq` (rows added since its
-- last look), never re-reading what it holds.
CREATE TABLE IF NOT EXISTS message_templates (
    id            text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    service_id    text NOT NULL,
    name          text NOT NULL,
    subject       text NOT NULL,
    markdown      text NOT NULL,
    placeholders  text[] NOT NULL DEFAULT '{}',
    created_by    text NOT NULL DEFAULT 'admin',
    created_at    timestamptz NOT NULL DEFAULT now(),
    seq           bigserial NOT NULL UNIQUE,
    PRIMARY KEY (id, version)
);
CREATE INDEX IF NOT EXISTS message_templates_service_idx
    ON message_templates (service_id, id, version);

-- The template a message was written from (NULL: written directly).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS template_id text;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS template_version integer;
