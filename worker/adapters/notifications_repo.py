"""PostgreSQL side of notify and its sweeper: rows, claims, outcomes, stuck rows.

Guarantees: a notification is claimed by one sender at a time (a claim succeeds only
on an unfinished row at the same attempt count that is unclaimed, claimed by the same
owner, or whose lease expired); a final status (SENT, EXPIRED, FAILED) is never
overwritten; a status change bumps `messages.status_seq` in the same statement and
stores it on the row, so a redone outcome re-emits the identical event (one statement
per group of outcomes: `notification_outcomes`). Connection failures surface as
`RetryableError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg

from schemas.enums import NotificationKind, NotificationStatus
from schemas.events import NotificationRequest
from worker.adapters.notification_outcomes import (
    COLUMNS,
    Connection,
    record_group,
    request_columns,
)
from worker.adapters.postgres import Pool, repository
from worker.adapters.services_repo import LIVE_FROM, live_columns
from worker.services.notify_ports import (
    Lease,
    MessageInfo,
    NotificationRow,
    NotifyContext,
    Outcome,
    Recipient,
    SenderInfo,
)

_COLUMNS = COLUMNS
_PROFILES = """
SELECT fiscal_code, email, email_validated, preferred_languages
FROM profiles WHERE fiscal_code = ANY($2::text[])
"""
_MESSAGES = """
SELECT id, COALESCE(content->>'subject', '') AS subject,
       COALESCE(content->>'markdown', '') AS markdown,
       (content->>'require_secure_channels')::boolean AS secure
FROM messages WHERE id = ANY($3::text[])
"""
# As served: a published service's organisation is its approved copy's.
_SERVICES = f"""
SELECT {live_columns(("id", "organization_name", "require_secure_channels"))}
FROM {LIVE_FROM} WHERE s.id = ANY($4::text[])
"""
# A batch's rows and context in one round trip: each part an array of anonymous
# records (asyncpg decodes each as a typed tuple).
_LOAD = f"""
SELECT ARRAY(SELECT ROW(x.*) FROM (SELECT {_COLUMNS} FROM notifications
                                   WHERE id = ANY($1::text[])) x) AS rows,
       ARRAY(SELECT ROW(x.*) FROM ({_PROFILES}) x) AS profiles,
       ARRAY(SELECT ROW(x.*) FROM ({_MESSAGES}) x) AS messages,
       ARRAY(SELECT ROW(x.*) FROM ({_SERVICES}) x) AS services
"""
_CLAIM = """
INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel, kind,
                           attempts, deadline, status, claimed_at, claimed_by, lease_until)
SELECT u.*, 'THROTTLED', $9::timestamptz, $10::text, $11::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::int[], $8::timestamptz[]) AS u
ON CONFLICT (id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at,
    claimed_by = EXCLUDED.claimed_by, lease_until = EXCLUDED.lease_until
WHERE (notifications.claimed_at IS NULL
       OR notifications.claimed_by = EXCLUDED.claimed_by
       OR notifications.lease_until < EXCLUDED.claimed_at)
  AND notifications.attempts = EXCLUDED.attempts
  AND notifications.status NOT IN ('SENT', 'EXPIRED', 'FAILED')
RETURNING id
"""
# Stuck: a claim whose lease expired (its owner died), a claim from before leases
# older than the grace, or an unclaimed retry due longer than the grace ago (its
# retry record was lost). $1: now, $2: now - grace.
_STUCK_WHERE = """
status = 'THROTTLED' AND (
    lease_until < $1
    OR (claimed_at IS NOT NULL AND lease_until IS NULL AND claimed_at < $2)
    OR (claimed_at IS NULL AND COALESCE(due_at, updated_at) < $2))
"""
_STUCK = f"""
SELECT {_COLUMNS} FROM notifications WHERE lease_until < $1 AND status = 'THROTTLED'
UNION
SELECT {_COLUMNS} FROM notifications
WHERE status = 'THROTTLED' AND COALESCE(claimed_at, due_at, updated_at) < $2
  AND {_STUCK_WHERE}
LIMIT $3
"""
_REDRIVE = f"""
UPDATE notifications SET claimed_at = NULL, claimed_by = NULL, lease_until = NULL, due_at = $1
WHERE id = $3 AND {_STUCK_WHERE}
RETURNING id
"""
_EXPIRE_LEASES = """
UPDATE notifications SET lease_until = $2
WHERE claimed_by = $1 AND status = 'THROTTLED' AND lease_until > $2
"""


_FIELDS = tuple(f.name for f in fields(NotificationRow))


def _row(record: Mapping[str, Any] | asyncpg.Record) -> NotificationRow:
    values: dict[str, Any] = dict(record)
    values.pop("changed", None)
    values["kind"] = NotificationKind(values["kind"])
    values["status"] = NotificationStatus(values["status"])
    return NotificationRow(**values)


def _row_of(values: tuple[Any, ...]) -> NotificationRow:
    """A row from its `_COLUMNS`, in that order (the fields' order)."""
    return _row(dict(zip(_FIELDS, values, strict=True)))


@repository
class PostgresNotifications:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def load_batch(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[dict[str, NotificationRow], NotifyContext]:
        found = await self._pool.fetchrow(
            _LOAD,
            sorted({r.notification_id for r in requests}),
            sorted({r.fiscal_code for r in requests}),
            sorted({r.message_id for r in requests}),
            sorted({r.sender_service_id for r in requests}),
        )
        if found is None:  # one row, always
            raise RuntimeError("the batch query returned no row")
        rows = {t[0]: _row_of(t) for t in found["rows"]}
        context = NotifyContext()
        for fiscal_code, email, validated, languages in found["profiles"]:
            context.recipients[fiscal_code] = Recipient(email, validated, tuple(languages or ()))
        for message_id, subject, markdown, secure in found["messages"]:
            context.messages[message_id] = MessageInfo(subject, markdown, secure)
        for service_id, organization, secure in found["services"]:
            context.senders[service_id] = SenderInfo(organization, secure)
        return rows, context

    async def claim(self, requests: Sequence[NotificationRequest], lease: Lease) -> set[str]:
        claimed: set[str] = set()
        # In id order (no deadlock between two claims), each id once per statement.
        for indexes in _rounds([r.notification_id for r in requests]):
            chosen = sorted((requests[i] for i in indexes), key=lambda r: r.notification_id)
            records = await self._pool.fetch(
                _CLAIM, *_claim_columns(chosen), lease.now, lease.owner, lease.until
            )
            claimed.update(r["id"] for r in records)
        return claimed

    async def record_outcomes(
        self, outcomes: Sequence[Outcome]
    ) -> list[tuple[NotificationRow, bool]]:
        """One statement per group (`notification_outcomes.RECORD`); a notification's
        second outcome in the same call, rare, goes in a second statement of the same
        transaction."""
        rounds = _rounds([o.request.notification_id for o in outcomes])
        stored: dict[int, tuple[NotificationRow, bool]] = {}
        async with self._pool.acquire() as conn:
            if len(rounds) == 1:
                stored.update(await _record_round(conn, outcomes, rounds[0]))
            else:
                async with conn.transaction():
                    for indexes in rounds:
                        stored.update(await _record_round(conn, outcomes, indexes))
        return [stored[i] for i in range(len(outcomes))]

    async def stuck(self, now: datetime, older_than: datetime, limit: int) -> list[NotificationRow]:
        """Rows whose lease expired before `now`, or unsettled since before `older_than`."""
        return [_row(r) for r in await self._pool.fetch(_STUCK, now, older_than, limit)]

    async def release_for_redrive(self, row_id: str, now: datetime, older_than: datetime) -> bool:
        """Clear a stale claim (or schedule) once: a second sweeper finds it fresh."""
        return await self._pool.fetchval(_REDRIVE, now, older_than, row_id) is not None

    async def expire_leases(self, owner: str, now: datetime) -> int:
        """End every lease `owner` holds (its previous life died mid-send); returns how
        many, for the sweeper to re-drive at once."""
        status = await self._pool.execute(_EXPIRE_LEASES, owner, now)
        return int(status.split()[-1])


def _rounds(keys: Sequence[str]) -> list[list[int]]:
    """The indexes in rounds of distinct keys (a notification's second claim or outcome
    in one call, rare, goes in a later round: one statement touches a row once)."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, key in enumerate(keys):
        rank = seen.get(key, 0)
        seen[key] = rank + 1
        if rank == len(rounds):
            rounds.append([])
        rounds[rank].append(index)
    return rounds


def _claim_columns(requests: Sequence[NotificationRequest]) -> tuple[list[Any], ...]:
    return (
        *request_columns(requests),
        [r.attempt for r in requests],
        [r.deadline for r in requests],
    )


async def _record_round(
    conn: Connection, outcomes: Sequence[Outcome], indexes: list[int]
) -> dict[int, tuple[NotificationRow, bool]]:
    records = await record_group(conn, [outcomes[i] for i in indexes])
    stored: dict[int, tuple[NotificationRow, bool]] = {}
    for index in indexes:
        record = records[outcomes[index].request.notification_id]
        stored[index] = (_row(record), record["changed"])
    return stored
