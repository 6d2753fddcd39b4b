"""PostgreSQL side of the operator console: flow rows, attempts, one message's story.

Every read here is bounded by an index: `console_flow` by its primary key (bucket
first), attempts by `(message_id, at)`, messages by id or by `(sender_service_id,
created_at)`. Nothing scans a whole table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.context import Context

from worker import logs, tracing
from worker.adapters.postgres import Pool
from worker.services.attempts import Attempt
from worker.services.read_status import READ_FACTS_SQL

log = logs.get("postino.console")


def trace_id_of(context: Context | None) -> str | None:
    """The W3C trace id (32 hex digits) of a tracing context, if it holds a valid one."""
    if context is None:
        return None
    found = trace.get_current_span(context).get_span_context()
    return format(found.trace_id, "032x") if found.is_valid else None


_ADD_FLOW = """
INSERT INTO console_flow (bucket, series, source, value)
SELECT to_timestamp($1), s, $2, v FROM unnest($3::text[], $4::float8[]) AS u(s, v)
ON CONFLICT (bucket, series, source) DO UPDATE SET value = console_flow.value + EXCLUDED.value
"""
_READ_FLOW = """
SELECT extract(epoch FROM bucket)::bigint AS second, series, sum(value) AS value
FROM console_flow WHERE bucket >= to_timestamp($1)
GROUP BY bucket, series
"""
_PRUNE_FLOW = "DELETE FROM console_flow WHERE bucket < now() - interval '1 hour'"
_PRUNE_ATTEMPTS = """
DELETE FROM delivery_attempts WHERE id IN (
    SELECT id FROM delivery_attempts WHERE at < $1 ORDER BY at LIMIT 10000)
"""
_ADD_ATTEMPTS = """
INSERT INTO delivery_attempts (id, message_id, at, kind, channel, attempt, outcome, tier,
                               status_code, detail, trace_id)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[],
                     $6::int[], $7::text[], $8::text[], $9::int[], $10::text[], $11::text[])
ON CONFLICT (id) DO NOTHING
"""
_MESSAGE = f"""
SELECT m.id, m.sender_service_id, m.created_at, m.processed_at, m.status, m.rejection_reason,
       m.failure_reason, m.feature_level_type, m.read_at, m.paid_at,
       m.content->'payment_data' IS NOT NULL AS has_payment, m.template_id, m.template_version,
       {READ_FACTS_SQL}
FROM messages m WHERE m.id = $1
"""
_NOTIFICATIONS = """
SELECT channel, kind, status, attempts, updated_at FROM notifications
WHERE message_id = $1 ORDER BY channel, kind
"""
_ATTEMPTS = """
SELECT at, kind, channel, attempt, outcome, tier, status_code, detail, trace_id
FROM delivery_attempts WHERE message_id = $1 ORDER BY at, kind, channel, attempt LIMIT 500
"""
_BY_SERVICE = """
SELECT id, created_at, status FROM messages
WHERE sender_service_id = $1 AND created_at >= $2 AND created_at < $3
ORDER BY created_at DESC LIMIT $4
"""


async def add_flow(pool: Pool, second: int, source: str, values: Mapping[str, float]) -> None:
    await pool.execute(_ADD_FLOW, float(second), source, list(values), list(values.values()))


async def read_flow(pool: Pool, since: int) -> list[tuple[int, str, float]]:
    rows = await pool.fetch(_READ_FLOW, float(since))
    return [(r["second"], r["series"], float(r["value"])) for r in rows]


async def prune(pool: Pool, attempts_before: datetime) -> None:
    await pool.execute(_PRUNE_FLOW)
    await pool.execute(_PRUNE_ATTEMPTS, attempts_before)


ATTEMPT_COLUMNS = (
    "id",
    "message_id",
    "at",
    "kind",
    "channel",
    "attempt",
    "outcome",
    "tier",
    "status_code",
    "detail",
    "trace_id",
)


def attempt_row(a: Attempt) -> tuple[Any, ...]:
    return (
        a.id,
        a.message_id,
        a.at,
        a.kind,
        a.channel,
        a.attempt,
        a.outcome,
        a.tier,
        a.status_code,
        a.detail,
        a.trace_id,
    )


async def add_attempts(pool: Pool, attempts: Sequence[Attempt]) -> None:
    """`COPY` the entries in (about half the client and two thirds of the server CPU
    of the INSERT per row); a batch holding an id already stored (a redone batch) fails
    whole under the primary key, and goes again through `INSERT ... ON CONFLICT DO
    NOTHING`: each id is stored once, as readers expect."""
    rows = [attempt_row(a) for a in attempts]
    try:
        await pool.copy_records_to_table("delivery_attempts", records=rows, columns=ATTEMPT_COLUMNS)
    except asyncpg.UniqueViolationError:
        await insert_attempts(pool, rows)


async def insert_attempts(pool: Pool, rows: Sequence[tuple[Any, ...]]) -> None:
    """The rows (`attempt_row`) by `INSERT ... ON CONFLICT DO NOTHING`: ids stored skipped."""
    await pool.execute(_ADD_ATTEMPTS, *(list(column) for column in zip(*rows, strict=True)))


async def message_story(pool: Pool, message_id: str) -> dict[str, Any]:
    """The stored message (no content, no fiscal code), its notifications and attempts."""
    async with pool.acquire() as conn:
        message = await conn.fetchrow(_MESSAGE, message_id)
        notifications = await conn.fetch(_NOTIFICATIONS, message_id)
        attempts = await conn.fetch(_ATTEMPTS, message_id)
    return {
        "message": dict(message) if message is not None else None,
        "notifications": [dict(r) for r in notifications],
        "attempts": [dict(r) for r in attempts],
    }


async def messages_of_service(
    pool: Pool, service_id: str, since: datetime, until: datetime, limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(_BY_SERVICE, service_id, since, until, limit)
    return [dict(r) for r in rows]


class PostgresJournal:
    """The attempts journal over PostgreSQL: `add()` queues, one task writes.

    The task waits `linger` seconds after the first entry it finds, then writes all
    that came meanwhile in one `COPY` (`add_attempts`), off every batch path: a busy
    role costs a statement per `linger`, not one per round trip. A failed write is
    logged and dropped (the attempts are an observation; the notification and callback
    state live elsewhere). `close()` writes what is queued.
    """

    _MAX_QUEUED = 50_000

    def __init__(self, pool: Pool, linger: float = 0.2) -> None:
        self._pool = pool
        self._linger = linger
        self._queued: list[Attempt] = []
        self._writer: asyncio.Task[None] | None = None

    def add(self, attempt: Attempt) -> None:
        if len(self._queued) >= self._MAX_QUEUED:
            return  # the database is not keeping up: drop, never grow without bound
        if attempt.trace_id is None and tracing.ENABLED:
            found = trace_id_of(tracing.context_of(attempt.message_id))
            attempt = replace(attempt, trace_id=found) if found else attempt
        self._queued.append(attempt)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self, linger: bool = True) -> None:
        while self._queued:
            if linger:
                await asyncio.sleep(self._linger)
            batch, self._queued = self._queued, []
            try:
                await add_attempts(self._pool, batch)
            except Exception as exc:
                log.warning("attempts_write_failed", count=len(batch), error=type(exc).__name__)

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._write(linger=False)
