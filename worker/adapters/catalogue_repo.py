"""PostgreSQL side of the citizen's service catalogue: published services as served
(the published copy's card), whether a logo shows, and the citizen's stored preference."""

from __future__ import annotations

from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.adapters.services_repo import LIVE_FROM, live_columns
from worker.services.catalogue import Filters

_CARD = (
    "name",
    "organization_name",
    "organization_fiscal_code",
    "description",
    "privacy_url",
    "scope",
    "email",
    "pec",
    "phone",
    "support_url",
)
_SERVED = f"""
SELECT s.id, {live_columns(_CARD)},
       CASE WHEN p.service_id IS NULL THEN s.topic_id ELSE p.topic_id END AS topic_id
FROM {LIVE_FROM}
WHERE s.published AND s.state <> 'deleted'
"""
_SELECT = f"""
SELECT c.*,
       EXISTS (SELECT 1 FROM logos l
               WHERE (l.kind = 'service' AND l.owner = c.id)
                  OR (l.kind = 'organization' AND l.owner = c.organization_fiscal_code))
           AS has_logo,
       sp.is_inbox_enabled AS pref_inbox, sp.is_push_enabled AS pref_push,
       sp.is_email_enabled AS pref_email, sp.can_access_message_read_status AS pref_read
FROM ({_SERVED}) c
LEFT JOIN service_preferences sp ON sp.fiscal_code = $1 AND sp.service_id = c.id
"""
_PAGE = f"""{_SELECT}
WHERE ($2::int IS NULL OR c.topic_id = $2) AND ($3::text IS NULL OR c.scope = $3)
  AND ($4::text IS NULL OR c.id > $4)
ORDER BY c.id LIMIT $5
"""
_ONE = f"{_SELECT} WHERE c.id = $2"


@repository
class PostgresCatalogue:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def published(
        self, fiscal_code: str, filters: Filters, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            _PAGE, fiscal_code, filters.topic_id, filters.scope, after, limit
        )
        return [dict(r) for r in rows]

    async def one(self, fiscal_code: str, service_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(_ONE, fiscal_code, service_id)
        return None if row is None else dict(row)
