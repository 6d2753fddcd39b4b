"""PostgreSQL side of the data lifecycle: content retention, a citizen's export and erasure.

Erasing a message keeps its row (id, service, dates, statuses, template) for the
sender's reports and clears what tells about the citizen: content (with the payment
data), payment key, due date and fiscal code; its notifications and reminders lose
the fiscal code too. A notification still waiting for a retry is closed `FAILED`
(the citizen is gone, or the message is older than any time to live), so nothing
is ever sent, or re-driven, from an erased row.

The eraser works in short transactions of one statement each: a batch of the oldest
messages not yet erased (`messages_retention_idx`), rows another transaction holds
skipped (`FOR UPDATE SKIP LOCKED`), so it never waits on, nor blocks for long, a
writer of the same rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from worker.adapters.postgres import Pool, repository
from worker.adapters.subscriptions_repo import record_change
from worker.services.subscriptions import PROFILE

_ERASED_BY = "citizen erased or content retention reached"
# Given `erased` (the ids of the messages just erased), clear their notifications
# and reminders; `{fc}` is the fiscal-code condition of the messages to erase.
_ERASE_TAIL = f"""
notified AS (
    UPDATE notifications SET fiscal_code = NULL,
        status = CASE WHEN status = 'THROTTLED' THEN 'FAILED' ELSE status END,
        last_error = CASE WHEN status = 'THROTTLED' THEN '{_ERASED_BY}' ELSE last_error END,
        claimed_at = NULL, claimed_by = NULL, lease_until = NULL
    WHERE message_id IN (SELECT id FROM erased)
    RETURNING 1
), reminded AS (
    UPDATE reminders SET fiscal_code = NULL, rpt_id = NULL,
        published_at = COALESCE(published_at, now())
    WHERE message_id IN (SELECT id FROM erased)
    RETURNING 1
)"""
_ERASE_SET = """
content = '{}'::jsonb, rpt_id = NULL, due_date = NULL, fiscal_code = NULL,
content_erased_at = COALESCE(content_erased_at, now())
"""
_RETENTION_BATCH = f"""
WITH batch AS (
    SELECT id FROM messages
    WHERE content_erased_at IS NULL AND created_at < $1
    ORDER BY created_at LIMIT $2
    FOR UPDATE SKIP LOCKED
), erased AS (
    UPDATE messages m SET {_ERASE_SET} FROM batch WHERE m.id = batch.id RETURNING m.id
), {_ERASE_TAIL}
SELECT (SELECT count(*) FROM erased) AS messages
"""
_ERASE_CITIZEN = f"""
WITH profile AS (
    DELETE FROM profiles WHERE fiscal_code = $1 RETURNING inbox_enabled
), preferences AS (
    DELETE FROM service_preferences WHERE fiscal_code = $1 RETURNING 1
), sessions AS (
    DELETE FROM citizen_sessions WHERE fiscal_code = $1 RETURNING 1
), erased AS (
    UPDATE messages SET {_ERASE_SET} WHERE fiscal_code = $1 RETURNING id
), {_ERASE_TAIL}
SELECT (SELECT count(*) FROM profile) AS profile,
       (SELECT count(*) FROM profile WHERE inbox_enabled) AS subscribed,
       (SELECT count(*) FROM preferences) AS preferences,
       (SELECT count(*) FROM sessions) AS sessions,
       (SELECT count(*) FROM erased) AS messages,
       (SELECT count(*) FROM notified) AS notifications
"""
# The export: whole rows as JSON, so a column added later is exported with no change
# here; never a session's token hash.
_EXPORT = {
    "profile": "SELECT to_jsonb(p) FROM profiles p WHERE fiscal_code = $1",
    "service_preferences": """
        SELECT to_jsonb(sp) FROM service_preferences sp WHERE fiscal_code = $1
        ORDER BY service_id""",
    "sessions": """
        SELECT to_jsonb(s) - 'token_hash' FROM citizen_sessions s WHERE fiscal_code = $1
        ORDER BY expires_at""",
    "messages": """
        SELECT to_jsonb(m) FROM messages m WHERE fiscal_code = $1
        ORDER BY created_at DESC, id DESC""",
}
_EXPORT_BY_MESSAGE = {
    "notifications": """
        SELECT to_jsonb(n) FROM notifications n WHERE message_id = ANY($1::text[])
        ORDER BY message_id, channel, kind""",
    "reminders": """
        SELECT to_jsonb(r) FROM reminders r WHERE message_id = ANY($1::text[])
        ORDER BY message_id, sent_at""",
    "delivery_attempts": """
        SELECT to_jsonb(a) FROM delivery_attempts a WHERE message_id = ANY($1::text[])
        AND kind = 'notification' ORDER BY message_id, at""",
}


@repository
class PostgresLifecycle:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def erase_batch(self, older_than: datetime, limit: int) -> int:
        """Erase up to `limit` messages created before `older_than` (one statement,
        one short transaction); the number erased."""
        erased: int = await self._pool.fetchval(_RETENTION_BATCH, older_than, limit)
        return erased

    async def erase_citizen(self, fiscal_code: str) -> dict[str, int]:
        """Everything about the citizen, at once (one transaction); the rows touched.
        A profile that was subscribed shows as unsubscribed in today's subscriptions
        feed (IO's: a deleted profile leaves the feed a hash, never a fiscal code)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_ERASE_CITIZEN, fiscal_code)
            counts = {} if row is None else {k: int(v) for k, v in row.items()}
            if counts.get("subscribed"):
                await record_change(conn, fiscal_code, PROFILE, subscribed=False)
        return counts

    async def export(self, fiscal_code: str) -> dict[str, Any]:
        """Every row about the citizen, as stored (one snapshot)."""
        found: dict[str, Any] = {}
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            for name, sql in _EXPORT.items():
                found[name] = [r[0] for r in await conn.fetch(sql, fiscal_code)]
            ids = [m["id"] for m in found["messages"]]
            for name, sql in _EXPORT_BY_MESSAGE.items():
                found[name] = [r[0] for r in await conn.fetch(sql, ids)]
        profiles = found.pop("profile")
        found["profile"] = profiles[0] if profiles else None
        return found
