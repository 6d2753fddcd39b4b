"""PostgreSQL side of the senders' reports: a service's messages by page, its daily counts.

Every query starts from one service and a time range, on the indexes of
0076_reports.sql:
- a page walks `messages_service_page_idx` (sender_service_id, created_at DESC, id DESC)
  from the cursor and stops after `limit` rows (keyset: no OFFSET, the cost of a page
  does not grow with its depth); `?status=REJECTED|FAILED` walks
  `messages_service_status_idx` instead, `?fiscal_code=` `messages_citizen_idx`;
- the statements are built with only the conditions asked for (their text varies,
  never their values), so PostgreSQL plans each shape for its own conditions instead
  of one generic plan full of `$n IS NULL OR ...`;
- the daily counts are two aggregates over the range, both index-only: the messages
  on `messages_service_page_idx` (it INCLUDEs what they count), their MESSAGE
  notifications on `notifications_service_created_idx` (the service's notifications
  created since the range's start), joined by message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from worker.adapters.postgres import Pool, repository

#: Which reads the sender sees in counts: the rule of `sender_events.shares_read`
#: (an ADVANCED message, its citizen's consent for the service when reading).
SHARED_READ = "m.feature_level_type = 'ADVANCED' AND m.is_read AND m.read_consent IS TRUE"
#: Paid is shared for ADVANCED messages only (`sender_events.shares_paid`).
SHARED_PAID = "m.feature_level_type = 'ADVANCED' AND m.paid_at IS NOT NULL"

_PAGE_COLUMNS = """
m.id, m.created_at, m.status, m.rejection_reason, m.failure_reason, m.feature_level_type,
m.template_id, m.template_version,
(SELECT jsonb_object_agg(n.channel, n.status) FROM notifications n
  WHERE n.message_id = m.id AND n.kind = 'MESSAGE') AS notification
"""
_DAY = "(m.created_at AT TIME ZONE 'UTC')::date"
DAILY_COUNTS = f"""
SELECT {_DAY} AS day, m.status, m.rejection_reason, m.failure_reason, count(*) AS n,
       count(*) FILTER (WHERE {SHARED_READ}) AS read,
       count(*) FILTER (WHERE {SHARED_PAID}) AS paid
FROM messages m
WHERE m.sender_service_id = $1 AND m.created_at >= $2 AND m.created_at < $3
GROUP BY 1, 2, 3, 4
"""
DAILY_CHANNELS = f"""
SELECT {_DAY} AS day, n.channel, n.status, count(*) AS n
FROM messages m JOIN notifications n ON n.message_id = m.id
WHERE m.sender_service_id = $1 AND m.created_at >= $2 AND m.created_at < $3
  AND n.sender_service_id = $1 AND n.created_at >= $2 AND n.kind = 'MESSAGE'
GROUP BY 1, 2, 3
"""


@dataclass(frozen=True, slots=True)
class PageQuery:
    """One page of a service's messages: filters, the cursor (the last row shown) and
    the number of rows to read."""

    service_id: str
    limit: int
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    fiscal_code: str | None = None
    after: tuple[datetime, str] | None = None


def page_statement(query: PageQuery) -> tuple[str, list[Any]]:
    """The SQL and its arguments: only the conditions `query` asks for."""
    args: list[Any] = [query.service_id]
    where = ["m.sender_service_id = $1"]

    def condition(sql: str, *values: Any) -> None:
        for value in values:
            args.append(value)
            sql = sql.replace("?", f"${len(args)}", 1)
        where.append(sql)

    if query.status is not None:
        condition("m.status = ?", query.status)
    if query.since is not None:
        condition("m.created_at >= ?", query.since)
    if query.until is not None:
        condition("m.created_at < ?", query.until)
    if query.fiscal_code is not None:
        condition("m.fiscal_code = ?", query.fiscal_code)
    if query.after is not None:
        condition("(m.created_at, m.id) < (?, ?)", *query.after)
    args.append(query.limit)
    sql = (
        f"SELECT {_PAGE_COLUMNS} FROM messages m WHERE {' AND '.join(where)}"
        f" ORDER BY m.created_at DESC, m.id DESC LIMIT ${len(args)}"
    )
    return sql, args


@repository
class PostgresReports:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def page(self, query: PageQuery) -> list[dict[str, Any]]:
        sql, args = page_statement(query)
        return [dict(r) for r in await self._pool.fetch(sql, *args)]

    async def daily(
        self, service_id: str, since: datetime, until: datetime
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(status rows, channel rows) per UTC day of creation in [since, until)."""
        async with self._pool.acquire() as conn:
            counts = await conn.fetch(DAILY_COUNTS, service_id, since, until)
            channels = await conn.fetch(DAILY_CHANNELS, service_id, since, until)
        return [dict(r) for r in counts], [dict(r) for r in channels]
