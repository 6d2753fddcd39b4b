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
- the daily counts are aggregates over the range, index-only: the messages on
  `messages_service_page_idx` (it INCLUDEs what they count), their MESSAGE
  notifications on `notifications_service_created_idx` (the service's notifications
  created since the range's start), joined by message id; read and paid on the small
  `messages_shared_read_paid_idx`. Settled days are kept in `service_day_counts`
  (see `worker.services.reports.service_stats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from worker.adapters.postgres import Pool, repository

# Which reads and payments a sender sees in counts: the rules of `sender_events`
# (`shares_read`: an ADVANCED message, its citizen's consent for the service when
# reading, kept as `read_consent`; `shares_paid`: an ADVANCED message), in SQL.

_PAGE_COLUMNS = """
m.id, m.created_at, m.status, m.rejection_reason, m.failure_reason, m.feature_level_type,
m.template_id, m.template_version,
(SELECT jsonb_object_agg(n.channel, n.status) FROM notifications n
  WHERE n.message_id = m.id AND n.kind = 'MESSAGE') AS notification
"""
_DAY = "(m.created_at AT TIME ZONE 'UTC')::date"
DAILY_COUNTS = f"""
SELECT {_DAY} AS day, m.status, m.rejection_reason, m.failure_reason, count(*) AS n
FROM messages m
WHERE m.sender_service_id = $1 AND m.created_at >= $2 AND m.created_at < $3
GROUP BY 1, 2, 3, 4
"""
# Read and paid as the sender may learn them, on `messages_shared_read_paid_idx` (its
# predicate is this WHERE clause's last line).
DAILY_SHARED = f"""
SELECT {_DAY} AS day, count(*) FILTER (WHERE m.is_read AND m.read_consent IS TRUE) AS read,
       count(*) FILTER (WHERE m.paid_at IS NOT NULL) AS paid
FROM messages m
WHERE m.sender_service_id = $1 AND m.created_at >= $2 AND m.created_at < $3
  AND m.feature_level_type = 'ADVANCED'
  AND ((m.is_read AND m.read_consent IS TRUE) OR m.paid_at IS NOT NULL)
GROUP BY 1
"""
# The services that sent messages created in a range (not erased: recent days only).
_SENDERS = """
SELECT DISTINCT sender_service_id FROM messages
WHERE created_at >= $1 AND created_at < $2 AND content_erased_at IS NULL
"""
_CACHED = """
SELECT day, counts FROM service_day_counts WHERE service_id = $1 AND day >= $2 AND day < $3
"""
_KEEP = """
INSERT INTO service_day_counts (service_id, day, counts)
SELECT $1, d, c FROM unnest($2::date[], $3::jsonb[]) AS u(d, c)
ON CONFLICT (service_id, day) DO NOTHING
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

    async def live_counts(
        self, service_id: str, since: datetime, until: datetime
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(status rows, channel rows) per UTC day of creation in [since, until)."""
        async with self._pool.acquire() as conn:
            counts = await conn.fetch(DAILY_COUNTS, service_id, since, until)
            channels = await conn.fetch(DAILY_CHANNELS, service_id, since, until)
        return [dict(r) for r in counts], [dict(r) for r in channels]

    async def shared(
        self, service_id: str, since: datetime, until: datetime
    ) -> list[dict[str, Any]]:
        """(day, read, paid) rows: what the sender may learn, per UTC day of creation."""
        rows = await self._pool.fetch(DAILY_SHARED, service_id, since, until)
        return [dict(r) for r in rows]

    async def cached_days(self, service_id: str, first: date, end: date) -> dict[date, Any]:
        """The kept counts of the days in [first, end), by day."""
        rows = await self._pool.fetch(_CACHED, service_id, first, end)
        return {r["day"]: r["counts"] for r in rows}

    async def senders(self, since: datetime, until: datetime) -> list[str]:
        """The services with messages created in [since, until)."""
        return [r[0] for r in await self._pool.fetch(_SENDERS, since, until)]

    async def keep_days(self, service_id: str, counts: dict[date, Any]) -> None:
        """Keep settled days' counts (a day kept already stays as it was)."""
        days = sorted(counts)
        await self._pool.execute(_KEEP, service_id, days, [counts[d] for d in days])
