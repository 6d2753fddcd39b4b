"""PostgreSQL side of the notices: the outbox (queue, claim, mark) and callback health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from worker.adapters.backoffice_trail import queue_notices
from worker.adapters.postgres import Pool, repository
from worker.services.backoffice_model import NoticeDraft
from worker.services.callback_health import HealthCounts
from worker.services.notice_outbox import HealthFlip, PendingNotice

_CLAIM = """
UPDATE service_notices SET lease_until = $3
WHERE id IN (
    SELECT id FROM service_notices
    WHERE status = 'pending' AND next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
RETURNING id, service_id, kind, recipients, subject, body, attempts
"""
_MARK = """
UPDATE service_notices SET status = $2::text, attempts = attempts + 1, lease_until = NULL,
    sent_at = CASE WHEN $2::text = 'sent' THEN $3::timestamptz END, last_error = $4::text,
    next_at = COALESCE($5::timestamptz, next_at)
WHERE id = $1
"""
# One upsert per flush: S the latest success, F the latest failure over both sides;
# failing_since is the first failure after S (null when S is at or after F).
_MERGE = """
INSERT INTO callback_health AS h (service_id, failing_since, last_failure_at, last_success_at)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::timestamptz[])
ON CONFLICT (service_id) DO UPDATE SET
    last_success_at = GREATEST(h.last_success_at, EXCLUDED.last_success_at),
    last_failure_at = GREATEST(h.last_failure_at, EXCLUDED.last_failure_at),
    failing_since = CASE
        WHEN GREATEST(h.last_failure_at, EXCLUDED.last_failure_at) IS NULL THEN NULL
        WHEN GREATEST(h.last_success_at, EXCLUDED.last_success_at)
            >= GREATEST(h.last_failure_at, EXCLUDED.last_failure_at) THEN NULL
        ELSE COALESCE(
            LEAST(
                CASE WHEN h.failing_since
                    > COALESCE(GREATEST(h.last_success_at, EXCLUDED.last_success_at), '-infinity')
                    THEN h.failing_since END,
                CASE WHEN EXCLUDED.failing_since
                    > COALESCE(GREATEST(h.last_success_at, EXCLUDED.last_success_at), '-infinity')
                    THEN EXCLUDED.failing_since END),
            GREATEST(h.last_failure_at, EXCLUDED.last_failure_at))
    END
"""
# Flip, in one statement, the services that have failed long enough (not yet told)
# or have recovered (told they were failing); row locks make one process win each.
_FLIPS = """
UPDATE callback_health SET alerted = NOT alerted
WHERE (failing_since <= $1 AND NOT alerted) OR (failing_since IS NULL AND alerted)
RETURNING service_id, alerted, failing_since
"""


@repository
class PostgresNotices:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def queue(self, drafts: Sequence[NoticeDraft]) -> list[str]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await queue_notices(conn, drafts)

    async def claim(self, now: datetime, limit: int, lease_seconds: float) -> list[PendingNotice]:
        lease = now + timedelta(seconds=lease_seconds)
        rows = await self._pool.fetch(_CLAIM, now, limit, lease)
        return [
            PendingNotice(
                r["id"],
                r["service_id"],
                r["kind"],
                tuple(r["recipients"]),
                r["subject"],
                r["body"],
                r["attempts"],
            )
            for r in rows
        ]

    async def mark(
        self,
        notice_id: str,
        status: str,
        at: datetime,
        error: str | None,
        retry_at: datetime | None,
    ) -> None:
        await self._pool.execute(_MARK, notice_id, status, at, error, retry_at)

    async def merge(self, counts: Sequence[HealthCounts]) -> None:
        if not counts:
            return
        ordered = sorted(counts, key=lambda c: c.service_id)  # one lock order everywhere
        await self._pool.execute(
            _MERGE,
            [c.service_id for c in ordered],
            [c.failing_since for c in ordered],
            [c.last_failure for c in ordered],
            [c.last_success for c in ordered],
        )

    async def flips(self, failing_before: datetime) -> list[HealthFlip]:
        rows = await self._pool.fetch(_FLIPS, failing_before)
        return [HealthFlip(r["service_id"], r["alerted"], r["failing_since"]) for r in rows]
