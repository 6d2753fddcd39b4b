"""PostgreSQL side of the citizen app API. Every query is scoped by fiscal code."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.adapters.services_repo import LIVE_FROM, live_columns
from worker.adapters.subscriptions_repo import record_change
from worker.services.citizen import Cursor, MessageState, StatusChange
from worker.services.model import Profile, ServicePreference
from worker.services.read_status import read_status_allowed
from worker.services.subscriptions import PROFILE

_PROFILE_COLUMNS = tuple(f.name for f in fields(Profile))
_PREFERENCE_COLUMNS = tuple(f.name for f in fields(ServicePreference))
_PROFILE = f"SELECT {', '.join(_PROFILE_COLUMNS)} FROM profiles WHERE fiscal_code = $1"

_CREATE_SESSION = """
WITH pruned AS (
    DELETE FROM citizen_sessions WHERE fiscal_code = $2 AND expires_at < now()
)
INSERT INTO citizen_sessions (token_hash, fiscal_code, expires_at) VALUES ($1, $2, $3)
"""
_SESSION = "SELECT fiscal_code FROM citizen_sessions WHERE token_hash = $1 AND expires_at > now()"

# Service names as served: a published service's are its approved copy's.
_LIVE_NAMES = f"""
SELECT s.id, {live_columns(("name", "organization_name"))}
FROM {LIVE_FROM}
"""
_INBOX_COLUMNS = """
m.id, m.sender_service_id, s.name AS service_name, s.organization_name, m.created_at,
m.time_to_live, m.feature_level_type, m.content->>'subject' AS subject,
m.content->'payment_data' AS payment_data, m.due_date, m.is_read, m.is_archived
"""
_INBOX = f"""
SELECT {_INBOX_COLUMNS}
FROM messages m LEFT JOIN ({_LIVE_NAMES}) s ON s.id = m.sender_service_id
WHERE m.fiscal_code = $1 AND m.status = 'PROCESSED' AND m.is_archived = $2
  AND ($3::timestamptz IS NULL OR (m.created_at, m.id) < ($3::timestamptz, $4::text))
ORDER BY m.created_at DESC, m.id DESC
LIMIT $5
"""
_MESSAGE = f"""
SELECT {_INBOX_COLUMNS}, m.content, m.read_at
FROM messages m LEFT JOIN ({_LIVE_NAMES}) s ON s.id = m.sender_service_id
WHERE m.id = $2 AND m.fiscal_code = $1 AND m.status = 'PROCESSED'
"""
# Read is one-way: only an unread row moves, and it takes the next status_seq.
_MARK_READ = """
UPDATE messages SET is_read = true, read_at = now(),
       status_seq = status_seq + 1, read_seq = status_seq + 1, read_consent = $3
WHERE id = $2 AND fiscal_code = $1 AND status = 'PROCESSED' AND NOT is_read
"""
# The citizen's read-status consent for the message's sender, right now.
_CONSENT = """
SELECT p.preferences_mode, sp.can_access_message_read_status AS stored
FROM messages m
JOIN profiles p ON p.fiscal_code = m.fiscal_code
LEFT JOIN service_preferences sp
       ON sp.fiscal_code = m.fiscal_code AND sp.service_id = m.sender_service_id
WHERE m.id = $2 AND m.fiscal_code = $1
"""
_ARCHIVE = """
UPDATE messages SET is_archived = $3
WHERE id = $2 AND fiscal_code = $1 AND status = 'PROCESSED'
"""
_STATE = """
SELECT id, sender_service_id, feature_level_type, is_read, is_archived, read_at, read_seq,
       read_consent
FROM messages WHERE id = $2 AND fiscal_code = $1 AND status = 'PROCESSED'
"""
_SERVICE_EXISTS = "SELECT EXISTS (SELECT 1 FROM services WHERE id = $1 AND state <> 'deleted')"
_PREFERENCE = f"""
SELECT {", ".join(_PREFERENCE_COLUMNS)} FROM service_preferences
WHERE fiscal_code = $1 AND service_id = $2
"""
_SAVE_PREFERENCE = """
INSERT INTO service_preferences (fiscal_code, service_id, is_inbox_enabled, is_push_enabled,
                                 is_email_enabled, can_access_message_read_status)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (fiscal_code, service_id) DO UPDATE SET
    is_inbox_enabled = EXCLUDED.is_inbox_enabled,
    is_push_enabled = EXCLUDED.is_push_enabled,
    is_email_enabled = EXCLUDED.is_email_enabled,
    can_access_message_read_status = EXCLUDED.can_access_message_read_status,
    updated_at = now()
"""
_INBOX_NOW = "SELECT inbox_enabled FROM profiles WHERE fiscal_code = $1 FOR UPDATE"
_SERVICE_INBOX_NOW = """
SELECT is_inbox_enabled FROM service_preferences
WHERE fiscal_code = $1 AND service_id = $2 FOR UPDATE
"""
#: Columns a citizen may change through PATCH /citizen/profile (names are fixed here).
EDITABLE_PROFILE_COLUMNS = (
    "inbox_enabled",
    "push_enabled",
    "email_enabled",
    "preferences_mode",
    "reminder_consent",
    "preferred_languages",
)


def _profile(row: Any) -> Profile:
    values = dict(row)
    values["preferred_languages"] = tuple(values["preferred_languages"] or ())
    values["blocked_channels"] = values["blocked_channels"] or {}
    return Profile(**values)


@repository
class PostgresCitizens:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def profile(self, fiscal_code: str) -> Profile | None:
        row = await self._pool.fetchrow(_PROFILE, fiscal_code)
        return None if row is None else _profile(row)

    async def create_session(self, token_hash: bytes, fiscal_code: str, expires: datetime) -> None:
        await self._pool.execute(_CREATE_SESSION, token_hash, fiscal_code, expires)

    async def session_owner(self, token_hash: bytes) -> str | None:
        owner: str | None = await self._pool.fetchval(_SESSION, token_hash)
        return owner

    async def inbox(
        self, fiscal_code: str, archived: bool, after: Cursor | None, limit: int
    ) -> list[dict[str, Any]]:
        created, last_id = (after.created_at, after.id) if after else (None, None)
        rows = await self._pool.fetch(_INBOX, fiscal_code, archived, created, last_id, limit)
        return [dict(r) for r in rows]

    async def message(self, fiscal_code: str, message_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(_MESSAGE, fiscal_code, message_id)
        return None if row is None else dict(row)

    async def change_status(
        self, fiscal_code: str, message_id: str, change: StatusChange
    ) -> MessageState | None:
        async with self._pool.acquire() as conn, conn.transaction():
            if change.is_read:
                consent = await conn.fetchrow(_CONSENT, fiscal_code, message_id)
                allowed = consent is not None and read_status_allowed(
                    consent["preferences_mode"], consent["stored"]
                )
                await conn.execute(_MARK_READ, fiscal_code, message_id, allowed)
            if change.is_archived is not None:
                await conn.execute(_ARCHIVE, fiscal_code, message_id, change.is_archived)
            row = await conn.fetchrow(_STATE, fiscal_code, message_id)
        return None if row is None else MessageState(**dict(row))

    async def update_profile(self, fiscal_code: str, changes: dict[str, Any]) -> Profile | None:
        names = [n for n in EDITABLE_PROFILE_COLUMNS if n in changes]
        if not names:
            return await self.profile(fiscal_code)
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2))
        query = (
            f"UPDATE profiles SET {sets}, updated_at = now() WHERE fiscal_code = $1"
            f" RETURNING {', '.join(_PROFILE_COLUMNS)}"
        )
        async with self._pool.acquire() as conn, conn.transaction():
            was = await conn.fetchval(_INBOX_NOW, fiscal_code)
            row = await conn.fetchrow(query, fiscal_code, *(changes[n] for n in names))
            if row is not None and was is not None and was != row["inbox_enabled"]:
                await record_change(conn, fiscal_code, PROFILE, row["inbox_enabled"])
        return None if row is None else _profile(row)

    async def service_exists(self, service_id: str) -> bool:
        return bool(await self._pool.fetchval(_SERVICE_EXISTS, service_id))

    async def preference(self, fiscal_code: str, service_id: str) -> ServicePreference | None:
        row = await self._pool.fetchrow(_PREFERENCE, fiscal_code, service_id)
        return None if row is None else ServicePreference(**dict(row))

    async def save_preference(
        self,
        fiscal_code: str,
        service_id: str,
        preference: ServicePreference,
        absent: ServicePreference,
    ) -> None:
        """Store the preference; a change of its inbox (from the stored one, or from
        `absent`, what no row means in the profile's mode) is logged for the feed."""
        values = asdict(preference)
        async with self._pool.acquire() as conn, conn.transaction():
            was = await conn.fetchval(_SERVICE_INBOX_NOW, fiscal_code, service_id)
            await conn.execute(
                _SAVE_PREFERENCE,
                fiscal_code,
                service_id,
                *(values[n] for n in _PREFERENCE_COLUMNS),
            )
            before = absent.is_inbox_enabled if was is None else was
            if before != preference.is_inbox_enabled:
                await record_change(conn, fiscal_code, service_id, preference.is_inbox_enabled)
