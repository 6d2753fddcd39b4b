"""PostgreSQL side of the sender's profile check and the back-office profile upsert."""

from __future__ import annotations

from dataclasses import asdict, fields

from worker.adapters.postgres import Pool, repository
from worker.adapters.subscriptions_repo import record_changes
from worker.services.model import Profile, ServicePreference
from worker.services.subscriptions import profile_changes

_PROFILE_COLUMNS = tuple(f.name for f in fields(Profile))
_PREFERENCE_COLUMNS = tuple(f.name for f in fields(ServicePreference))
_LOOKUP = f"""
SELECT {", ".join(f"p.{c}" for c in _PROFILE_COLUMNS)},
       sp.fiscal_code IS NOT NULL AS has_preference,
       {", ".join(f"sp.{c}" for c in _PREFERENCE_COLUMNS)}
FROM profiles p
LEFT JOIN service_preferences sp ON sp.fiscal_code = p.fiscal_code AND sp.service_id = $2
WHERE p.fiscal_code = $1
"""
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in _PROFILE_COLUMNS if c != "fiscal_code")
_UPSERT = f"""
INSERT INTO profiles ({", ".join(_PROFILE_COLUMNS)})
VALUES ({", ".join(f"${i}" for i in range(1, len(_PROFILE_COLUMNS) + 1))})
ON CONFLICT (fiscal_code) DO UPDATE SET {_UPDATES}, updated_at = now()
RETURNING (xmax = 0) AS created
"""
_CURRENT = """
SELECT inbox_enabled, preferences_mode, blocked_channels FROM profiles
WHERE fiscal_code = $1 FOR UPDATE
"""


@repository
class PostgresProfiles:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def for_service(
        self, fiscal_code: str, service_id: str
    ) -> tuple[Profile | None, ServicePreference | None]:
        """The citizen's profile and their preference for one service, in one round trip."""
        row = await self._pool.fetchrow(_LOOKUP, fiscal_code, service_id)
        if row is None:
            return None, None
        values = dict(row)
        values["preferred_languages"] = tuple(values["preferred_languages"] or ())
        profile = Profile(**{c: values[c] for c in _PROFILE_COLUMNS})
        if not values["has_preference"]:
            return profile, None
        return profile, ServicePreference(**{c: values[c] for c in _PREFERENCE_COLUMNS})

    async def upsert(self, profile: Profile) -> bool:
        """Create or replace the profile; True when it was created. What the change
        means for the subscriptions feed is logged in the same transaction."""
        values = asdict(profile)
        values["preferred_languages"] = list(profile.preferred_languages)
        after = (profile.inbox_enabled, profile.preferences_mode, profile.blocked_channels)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_CURRENT, profile.fiscal_code)
            before = None if row is None else (row[0], row[1], row[2] or {})
            created = await conn.fetchval(_UPSERT, *(values[c] for c in _PROFILE_COLUMNS))
            await record_changes(conn, profile.fiscal_code, profile_changes(before, after))
        return bool(created)
