-- Logos of organisations and services (issue 27), as IO's sender API uploads them:
-- checked PNGs, served to the citizen app with an ETag (a hash of the bytes).
CREATE TABLE IF NOT EXISTS logos (
    kind        text NOT NULL CHECK (kind IN ('organization', 'service')),
    -- an organisation's fiscal code, or a service id
    owner       text NOT NULL,
    png         bytea NOT NULL,
    etag        text NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, owner)
);
