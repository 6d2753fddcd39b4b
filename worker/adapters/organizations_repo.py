"""PostgreSQL side of public bodies and their manage keys."""

from __future__ import annotations

from datetime import datetime

from worker.adapters.postgres import Pool, repository
from worker.services.backoffice_model import ManageKey, Organization

_ADD = """
INSERT INTO organizations (fiscal_code, name, email, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (fiscal_code) DO NOTHING RETURNING fiscal_code
"""
_LIVE = """
SELECT count(*) FROM manage_keys WHERE organization_fiscal_code = $1 AND revoked_at IS NULL
"""
_ADD_KEY = """
INSERT INTO manage_keys (id, organization_fiscal_code, key_hash, created_at)
VALUES ($1, $2, $3, $4)
"""
_REVOKE = """
UPDATE manage_keys SET revoked_at = COALESCE(revoked_at, $3)
WHERE organization_fiscal_code = $1 AND id = $2
RETURNING id, organization_fiscal_code, created_at, revoked_at
"""
_OWNER = """
SELECT id, organization_fiscal_code FROM manage_keys WHERE key_hash = $1 AND revoked_at IS NULL
"""
_KEYS = """
SELECT id, organization_fiscal_code, created_at, revoked_at FROM manage_keys
ORDER BY organization_fiscal_code, created_at, id
"""


@repository
class PostgresOrganizations:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add(self, organization: Organization) -> bool:
        o = organization
        added = await self._pool.fetchval(_ADD, o.fiscal_code, o.name, o.email, o.created_at)
        return added is not None

    async def add_key(self, key: ManageKey, key_hash: bytes, max_live: int) -> bool | None:
        """The body's row is locked while its live keys are counted: two concurrent
        issues never make a third."""
        async with self._pool.acquire() as conn, conn.transaction():
            found = await conn.fetchval(
                "SELECT 1 FROM organizations WHERE fiscal_code = $1 FOR UPDATE",
                key.organization_fiscal_code,
            )
            if found is None:
                return None
            if await conn.fetchval(_LIVE, key.organization_fiscal_code) >= max_live:
                return False
            await conn.execute(
                _ADD_KEY, key.id, key.organization_fiscal_code, key_hash, key.created_at
            )
            return True

    async def revoke_key(self, fiscal_code: str, key_id: str, at: datetime) -> ManageKey | None:
        row = await self._pool.fetchrow(_REVOKE, fiscal_code, key_id, at)
        return None if row is None else ManageKey(**dict(row))

    async def key_owner(self, key_hash: bytes) -> tuple[str, str] | None:
        row = await self._pool.fetchrow(_OWNER, key_hash)
        return None if row is None else (row["id"], row["organization_fiscal_code"])

    async def get(self, fiscal_code: str) -> Organization | None:
        row = await self._pool.fetchrow(
            "SELECT fiscal_code, name, email, created_at FROM organizations WHERE fiscal_code = $1",
            fiscal_code,
        )
        return None if row is None else Organization(**dict(row))

    async def all(self) -> list[tuple[Organization, list[ManageKey]]]:
        async with self._pool.acquire() as conn:
            orgs = await conn.fetch(
                "SELECT fiscal_code, name, email, created_at FROM organizations ORDER BY name"
            )
            keys = [ManageKey(**dict(r)) for r in await conn.fetch(_KEYS)]
        by_org: dict[str, list[ManageKey]] = {}
        for key in keys:
            by_org.setdefault(key.organization_fiscal_code, []).append(key)
        return [(Organization(**dict(o)), by_org.get(o["fiscal_code"], [])) for o in orgs]
