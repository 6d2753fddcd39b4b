"""notify's outcomes in PostgreSQL: one statement records a group and numbers its events.

One group of outcomes (each notification once) is one statement, so one round trip
and its own transaction, whatever its size. Its data-modifying CTEs, in lock order:

1. `prev` locks the group's existing notification rows, in id order, and reads them
   (under READ COMMITTED a row lock returns the newest committed version);
2. `events` picks the outcomes that get a status event: a reporting kind, and no row
   yet, or an unfinished row without an event or with another status;
3. `locked` + `bumped` lock the messages that get events, in id order, and move each
   `status_seq` by its number of events; `seqs` numbers them in notification id order
   (a message row that is missing gives no event);
4. `written` upserts every outcome whose row is not final and differs from it (a
   redone outcome over its own stored row writes nothing, so it keeps its
   `updated_at` and `status_seq`: the event built from it stays identical), and
   releases the claim. A final row is never overwritten, even one that appeared
   after the statement's snapshot (the `ON CONFLICT` guard).

All notification locks come before any message lock (the window functions of
`events` read all of `prev` first), each kind in id order, so two groups never wait
on each other in a cycle. The answer is the stored row of each outcome and whether it
got a new event: written rows from `RETURNING`, the others as `prev` locked them. An
outcome with neither (a row inserted by another transaction after the snapshot and
final) is asked again alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg

from schemas.events import NotificationRequest
from worker.core.errors import RetryableError
from worker.services.notify_ports import Outcome
from worker.services.sender_events import reports_notification

Connection: TypeAlias = "asyncpg.Connection | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

COLUMNS = (
    "id, message_id, fiscal_code, COALESCE(sender_service_id, '') AS sender_service_id,"
    " channel, kind, status, attempts, deadline, updated_at, status_seq, due_at, claimed_at,"
    " claimed_by, lease_until"
)
_FINAL = "('SENT', 'EXPIRED', 'FAILED')"
RECORD = f"""
WITH o AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::int[], $9::text[], $10::timestamptz[],
                         $11::timestamptz[], $12::bool[])
        AS o(id, message_id, fiscal_code, sender_service_id, channel, kind, status,
             attempts, last_error, deadline, due_at, reports)
),
prev AS MATERIALIZED (
    SELECT {COLUMNS}, last_error FROM notifications
    WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE
),
events AS MATERIALIZED (
    SELECT o.id, o.message_id,
           row_number() OVER (PARTITION BY o.message_id ORDER BY o.id) AS k,
           count(*) OVER (PARTITION BY o.message_id) AS n
    FROM o LEFT JOIN prev p ON p.id = o.id
    WHERE o.reports AND (p.id IS NULL OR (p.status NOT IN {_FINAL}
                                          AND (p.status_seq IS NULL OR p.status <> o.status)))
),
locked AS MATERIALIZED (
    SELECT id FROM messages WHERE id IN (SELECT message_id FROM events) ORDER BY id FOR UPDATE
),
bumped AS (
    UPDATE messages m SET status_seq = m.status_seq + e.n
    FROM (SELECT DISTINCT message_id, n FROM events) e, locked l
    WHERE m.id = e.message_id AND l.id = m.id
    RETURNING m.id, m.status_seq
),
seqs AS MATERIALIZED (
    SELECT e.id, (b.status_seq - e.n + e.k)::int AS seq
    FROM events e JOIN bumped b ON b.id = e.message_id
),
written AS (
    INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel, kind,
                               status, attempts, last_error, deadline, due_at, status_seq)
    SELECT o.id, o.message_id, o.fiscal_code, o.sender_service_id, o.channel, o.kind,
           o.status, o.attempts, o.last_error, o.deadline, o.due_at,
           COALESCE(s.seq, p.status_seq)
    FROM o LEFT JOIN prev p ON p.id = o.id LEFT JOIN seqs s ON s.id = o.id
    WHERE p.id IS NULL
       OR (p.status NOT IN {_FINAL}
           AND (s.id IS NOT NULL OR p.claimed_at IS NOT NULL
                OR (p.status, p.attempts, p.last_error, p.due_at)
                   IS DISTINCT FROM (o.status, o.attempts, o.last_error, o.due_at)))
    ORDER BY o.id
    ON CONFLICT (id) DO UPDATE SET
        status = EXCLUDED.status, attempts = EXCLUDED.attempts,
        last_error = EXCLUDED.last_error, due_at = EXCLUDED.due_at,
        status_seq = EXCLUDED.status_seq, claimed_at = NULL, claimed_by = NULL,
        lease_until = NULL, updated_at = now()
    WHERE notifications.status NOT IN {_FINAL}
    RETURNING {COLUMNS}
)
SELECT w.*, s.id IS NOT NULL AS changed FROM written w LEFT JOIN seqs s ON s.id = w.id
UNION ALL
SELECT {COLUMNS}, false FROM prev WHERE id NOT IN (SELECT id FROM written)
"""


def request_columns(requests: Sequence[NotificationRequest]) -> tuple[list[Any], ...]:
    """What identifies each notification, one column each: id, message, fiscal code,
    service, channel, kind."""
    return (
        [r.notification_id for r in requests],
        [r.message_id for r in requests],
        [r.fiscal_code for r in requests],
        [r.sender_service_id for r in requests],
        [r.channel.value for r in requests],
        [r.kind.value for r in requests],
    )


def record_arguments(outcomes: Sequence[Outcome]) -> tuple[list[Any], ...]:
    """`RECORD`'s twelve columns, in notification id order (the insert's lock order)."""
    ordered = sorted(outcomes, key=lambda o: o.request.notification_id)
    requests = [o.request for o in ordered]
    return (
        *request_columns(requests),
        [o.status.value for o in ordered],
        [o.attempts for o in ordered],
        [o.error for o in ordered],
        [r.deadline for r in requests],
        [o.due_at for o in ordered],
        [reports_notification(r.kind) for r in requests],
    )


async def record_group(conn: Connection, outcomes: Sequence[Outcome]) -> dict[str, asyncpg.Record]:
    """The stored row (with its `changed` flag) of each outcome, by notification id;
    `outcomes` name each notification once. An outcome whose row appeared (final) after
    the statement's snapshot is asked again alone: the next statement sees that row."""
    found: dict[str, asyncpg.Record] = {}
    waiting = list(outcomes)
    for _ in range(3):
        found.update((r["id"], r) for r in await conn.fetch(RECORD, *record_arguments(waiting)))
        waiting = [o for o in waiting if o.request.notification_id not in found]
        if not waiting:
            return found
    raise RetryableError("notification rows kept appearing under the outcome statement")
