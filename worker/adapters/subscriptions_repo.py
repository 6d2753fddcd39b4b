"""PostgreSQL side of the subscriptions feed: the change log and the feed's reads.

`record_change` runs inside the caller's transaction (the preference or profile write
that made the change), so a change is logged exactly when it is committed. The log
keeps hashes, never fiscal codes: a profile deleted on a day still shows in that
day's feed without its fiscal code staying anywhere.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.services.subscriptions import PROFILE, DayChanges, fiscal_code_hash

SUBSCRIBED, UNSUBSCRIBED = "SUBSCRIBED", "UNSUBSCRIBED"
# The opposite change of the same day is undone (net nothing); else this one is kept.
_RECORD = """
WITH undone AS (
    DELETE FROM subscription_changes
    WHERE day = (now() AT TIME ZONE 'UTC')::date AND scope = $1 AND fiscal_code_hash = $2
      AND kind <> $3
    RETURNING 1
)
INSERT INTO subscription_changes (day, scope, fiscal_code_hash, kind)
SELECT (now() AT TIME ZONE 'UTC')::date, $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM undone)
ON CONFLICT (day, scope, fiscal_code_hash) DO UPDATE SET kind = EXCLUDED.kind, at = now()
"""
_DAY = """
SELECT scope, fiscal_code_hash, kind FROM subscription_changes
WHERE day = $1 AND scope IN ('', $2)
"""
_ALLOWED = "SELECT subscriptions_feed FROM services WHERE id = $1 AND state <> 'deleted'"
_SET_ALLOWED = """
UPDATE services SET subscriptions_feed = $2, updated_at = now()
WHERE id = $1 AND state <> 'deleted' RETURNING subscriptions_feed
"""
_PRUNE = "DELETE FROM subscription_changes WHERE day < $1"


async def record_change(conn: Any, fiscal_code: str, scope: str, subscribed: bool) -> None:
    """Log one change of today (UTC) on `conn`, in the caller's transaction.
    `scope` is a service id, or `PROFILE` for the whole profile."""
    kind = SUBSCRIBED if subscribed else UNSUBSCRIBED
    await conn.execute(_RECORD, scope, fiscal_code_hash(fiscal_code), kind)


async def record_changes(conn: Any, fiscal_code: str, changes: dict[str, bool]) -> None:
    for scope, subscribed in sorted(changes.items()):
        await record_change(conn, fiscal_code, scope, subscribed)


@repository
class PostgresSubscriptions:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def feed_allowed(self, service_id: str) -> bool | None:
        allowed: bool | None = await self._pool.fetchval(_ALLOWED, service_id)
        return allowed

    async def set_allowed(self, service_id: str, allowed: bool) -> bool:
        """Allow or stop the service's feed; False when there is no such service."""
        return await self._pool.fetchval(_SET_ALLOWED, service_id, allowed) is not None

    async def day_changes(self, day: date, service_id: str) -> DayChanges:
        rows = await self._pool.fetch(_DAY, day, service_id)
        sets: dict[tuple[bool, str], set[str]] = {}
        for row in rows:
            key = (row["scope"] == PROFILE, row["kind"])
            sets.setdefault(key, set()).add(row["fiscal_code_hash"])
        return DayChanges(
            profile_subscribed=frozenset(sets.get((True, SUBSCRIBED), ())),
            profile_unsubscribed=frozenset(sets.get((True, UNSUBSCRIBED), ())),
            service_subscribed=frozenset(sets.get((False, SUBSCRIBED), ())),
            service_unsubscribed=frozenset(sets.get((False, UNSUBSCRIBED), ())),
        )

    async def prune(self, before: date) -> int:
        """Drop the log of the days before `before`; the number of rows dropped."""
        status: str = await self._pool.execute(_PRUNE, before)
        return int(status.rsplit(" ", 1)[-1])

    async def record(self, fiscal_code: str, scope: str, subscribed: bool) -> None:
        """Log one change on its own (a caller without a transaction of its own)."""
        async with self._pool.acquire() as conn:
            await record_change(conn, fiscal_code, scope, subscribed)
