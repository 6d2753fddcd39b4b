"""Writing what a back-office change leaves (history entries, notices) on its
connection, in its transaction; reading a service's history back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from worker import logs
from worker.services.backoffice_model import (
    HistoryEntry,
    NoticeDraft,
    StoredHistoryEntry,
    Trail,
)

log = logs.get("postino.backoffice")

_HISTORY = """
INSERT INTO service_history
    (service_id, at, action, actor_kind, actor_id, kind, status, reason, version, service)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
# The gate opens when its last notice is an hour old (or there was none): the unique
# key (service_id, gate) makes this atomic across processes.
_GATE = """
INSERT INTO notice_gates (service_id, gate, last_at) VALUES ($1, $2, $3)
ON CONFLICT (service_id, gate) DO UPDATE SET last_at = EXCLUDED.last_at
WHERE notice_gates.last_at <= EXCLUDED.last_at - interval '1 hour'
RETURNING last_at
"""
_NOTICE = """
INSERT INTO service_notices (id, service_id, kind, created_at, recipients, subject, body, next_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $4)
ON CONFLICT (id) DO NOTHING
"""
_READ = """
SELECT id, service_id, at, action, actor_kind, actor_id, kind, status, version, service, reason
FROM service_history
WHERE service_id = $1 AND ($2::bigint IS NULL OR CASE WHEN $3 THEN id > $2 ELSE id < $2 END)
ORDER BY CASE WHEN $3 THEN id END ASC, CASE WHEN NOT $3 THEN id END DESC
LIMIT $4
"""


def _history_args(e: HistoryEntry) -> tuple[Any, ...]:
    return (
        e.service_id,
        e.at,
        e.action,
        e.actor.kind.value,
        e.actor.id,
        e.kind,
        e.status,
        e.reason,
        e.version,
        e.service,
    )


async def write_history(conn: Any, entries: Sequence[HistoryEntry]) -> None:
    """Write the entries; each is also one `backoffice_action` log line (no personal data:
    ids, the action, the status after it, who did it)."""
    if not entries:
        return
    await conn.executemany(_HISTORY, [_history_args(e) for e in entries])
    for e in entries:
        log.info(
            "backoffice_action",
            service_id=e.service_id,
            action=e.action,
            kind=e.kind,
            status=e.status,
            version=e.version,
            actor=e.actor.kind.value,
            actor_id=e.actor.id,
        )


def notice_id(draft: NoticeDraft) -> str:
    return f"{draft.service_id}.{draft.gate}.{int(draft.at.timestamp())}"


async def queue_notices(conn: Any, drafts: Sequence[NoticeDraft]) -> list[str]:
    """Each draft whose gate is open: its notice and its history entry. The kinds queued."""
    queued = []
    for d in drafts:
        if await conn.fetchval(_GATE, d.service_id, d.gate, d.at) is None:
            log.info("notice_suppressed", service_id=d.service_id, kind=d.kind, gate=d.gate)
            continue
        args = (notice_id(d), d.service_id, d.kind, d.at, list(d.recipients), d.subject, d.body)
        await conn.execute(_NOTICE, *args)
        await write_history(conn, [d.history])
        log.info(
            "notice_queued", service_id=d.service_id, kind=d.kind, recipients=len(d.recipients)
        )
        queued.append(d.kind)
    return queued


async def write_trail(conn: Any, trail: Trail) -> None:
    await write_history(conn, trail.history)
    await queue_notices(conn, trail.notices)


async def read_history(
    conn: Any, service_id: str, *, after: int | None, ascending: bool, limit: int
) -> list[StoredHistoryEntry]:
    rows = await conn.fetch(_READ, service_id, after, ascending, limit)
    return [StoredHistoryEntry(**dict(r)) for r in rows]
