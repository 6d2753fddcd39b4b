"""PostgreSQL side of the logos: one row per organisation or service, replaced whole."""

from __future__ import annotations

from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.services.logos import ORGANIZATION, SERVICE, Kind, Logo, StoredLogo

_SAVE = """
INSERT INTO logos (kind, owner, png, etag, width, height) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (kind, owner) DO UPDATE SET
    png = EXCLUDED.png, etag = EXCLUDED.etag, width = EXCLUDED.width,
    height = EXCLUDED.height, updated_at = now()
"""
_ONE = "SELECT png, etag, updated_at FROM logos WHERE kind = $1 AND owner = $2"
# The service's own logo first, else its organisation's (as served: the published copy).
_SERVICE = f"""
SELECT l.png, l.etag, l.updated_at
FROM services s
LEFT JOIN service_publications p ON p.service_id = s.id AND s.published
JOIN logos l ON (l.kind = '{SERVICE}' AND l.owner = s.id)
             OR (l.kind = '{ORGANIZATION}'
                 AND l.owner = COALESCE(p.organization_fiscal_code, s.organization_fiscal_code))
WHERE s.id = $1 AND s.state <> 'deleted'
ORDER BY l.kind = '{SERVICE}' DESC
LIMIT 1
"""


def _stored(row: Any) -> StoredLogo | None:
    return None if row is None else StoredLogo(bytes(row["png"]), row["etag"], row["updated_at"])


@repository
class PostgresLogos:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def save(self, kind: Kind, owner: str, logo: Logo) -> None:
        await self._pool.execute(_SAVE, kind, owner, logo.png, logo.etag, logo.width, logo.height)

    async def organization_logo(self, fiscal_code: str) -> StoredLogo | None:
        return _stored(await self._pool.fetchrow(_ONE, ORGANIZATION, fiscal_code))

    async def service_logo(self, service_id: str) -> StoredLogo | None:
        return _stored(await self._pool.fetchrow(_SERVICE, service_id))
