-- One logo store (issue 27): the CMS's service logos move into `logos`, which IO's
-- sender routes, the CMS route and the citizen app share. Width and height come from
-- the PNG's IHDR chunk (bytes 17-24), the ETag from a hash of the bytes.
INSERT INTO logos (kind, owner, png, etag, width, height, updated_at)
SELECT 'service', service_id, png,
       '"' || left(encode(sha256(png), 'hex'), 32) || '"',
       ('x' || encode(substring(png from 17 for 4), 'hex'))::bit(32)::int,
       ('x' || encode(substring(png from 21 for 4), 'hex'))::bit(32)::int,
       updated_at
FROM service_logos
ON CONFLICT (kind, owner) DO NOTHING;
DROP TABLE IF EXISTS service_logos;
