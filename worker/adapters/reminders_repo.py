"""PostgreSQL side of reminders: candidates with their history, and the reminders rows.

Guarantees: a reminder row has a deterministic id and is written once (`ON CONFLICT
DO NOTHING`), so a redone round records nothing twice; a row stays unpublished until
its publish was acknowledged, so every round publishes what an earlier one could not.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from schemas.enums import Channel, NotificationKind
from schemas.events import NotificationRequest
from worker.adapters.postgres import Pool, repository
from worker.core.errors import RetryableError
from worker.services.decide import push_reachable
from worker.services.model import Profile, ServicePreference
from worker.services.reminders import (
    PAYMENT_KINDS,
    Candidate,
    MessageState,
    ReminderDue,
    SentReminder,
)
from worker.settings import ReminderSettings

# Two arms, each served by its partial index (0006_premium.sql). The bounds only
# narrow the scan; the rules in services/reminders.py decide.
_CANDIDATES = """
SELECT * FROM (
    SELECT m.id, m.fiscal_code, m.sender_service_id, m.created_at, m.is_read, m.rpt_id,
           m.due_date
    FROM messages m
    WHERE m.feature_level_type = 'ADVANCED' AND m.status = 'PROCESSED'
      AND m.rpt_id IS NULL AND NOT m.is_read
      AND m.created_at <= $2 AND m.created_at > $3
    UNION ALL
    SELECT m.id, m.fiscal_code, m.sender_service_id, m.created_at, m.is_read, m.rpt_id,
           m.due_date
    FROM messages m
    WHERE m.feature_level_type = 'ADVANCED' AND m.status = 'PROCESSED'
      AND m.rpt_id IS NOT NULL AND m.paid_at IS NULL
      AND ((m.due_date > $1 AND m.due_date <= $4)
           OR (m.due_date IS NULL AND m.created_at <= $5 AND m.created_at > $6))
      AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.rpt_id = m.rpt_id)
) c
WHERE EXISTS (
    SELECT 1 FROM profiles pr
    WHERE pr.fiscal_code = c.fiscal_code AND pr.reminder_consent = 'ENABLED'
)
ORDER BY c.created_at, c.id
LIMIT $7
"""
# What decides whether a reminder push would reach the citizen now (decide.push_reachable).
_SWITCHES = """
SELECT p.fiscal_code, p.inbox_enabled, p.push_enabled, p.preferences_mode,
       p.blocked_channels, sp.service_id, sp.is_inbox_enabled, sp.is_push_enabled,
       sp.is_email_enabled, sp.can_access_message_read_status
FROM profiles p
LEFT JOIN service_preferences sp
       ON sp.fiscal_code = p.fiscal_code AND sp.service_id = ANY($2::text[])
WHERE p.fiscal_code = ANY($1::text[])
"""
_HISTORY = """
SELECT message_id, rpt_id, kind, sent_at FROM reminders WHERE message_id = ANY($1::text[])
UNION
SELECT message_id, rpt_id, kind, sent_at FROM reminders WHERE rpt_id = ANY($2::text[])
"""
_RECORD = """
INSERT INTO reminders (id, message_id, rpt_id, kind, ordinal, sent_at, fiscal_code,
                       sender_service_id, deadline)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[],
                     $6::timestamptz[], $7::text[], $8::text[], $9::timestamptz[])
ON CONFLICT (id) DO NOTHING
"""
_UNPUBLISHED = """
SELECT id, message_id, fiscal_code, sender_service_id, kind, deadline
FROM reminders WHERE published_at IS NULL ORDER BY sent_at, id
"""
_MARK = "UPDATE reminders SET published_at = $2 WHERE id = ANY($1::text[])"


def _bounds(now: datetime, rules: ReminderSettings) -> list[object]:
    unread = timedelta(days=rules.unread_period_days)
    payment = timedelta(days=rules.payment_period_days)
    return [
        now,
        now - unread,
        now - unread * (rules.unread_max + 1),
        now + timedelta(days=rules.payment_window_days + 1),
        now - payment,
        now - payment * (rules.payment_max + 1),
        rules.round_limit,
    ]


Switches = tuple[dict[str, Profile], dict[tuple[str, str], ServicePreference]]


def _switches(rows: Sequence[asyncpg.Record]) -> Switches:
    profiles: dict[str, Profile] = {}
    preferences: dict[tuple[str, str], ServicePreference] = {}
    for r in rows:
        profiles[r["fiscal_code"]] = Profile(
            fiscal_code=r["fiscal_code"],
            inbox_enabled=r["inbox_enabled"],
            push_enabled=r["push_enabled"],
            preferences_mode=r["preferences_mode"],
            blocked_channels=r["blocked_channels"] or {},
        )
        if r["service_id"] is not None:
            preferences[(r["fiscal_code"], r["service_id"])] = ServicePreference(
                r["is_inbox_enabled"],
                r["is_push_enabled"],
                r["is_email_enabled"],
                r["can_access_message_read_status"],
            )
    return profiles, preferences


def _reachable(row: asyncpg.Record, switches: Switches) -> bool:
    profiles, preferences = switches
    fiscal_code, service_id = row["fiscal_code"], row["sender_service_id"]
    profile = profiles.get(fiscal_code)
    preference = preferences.get((fiscal_code, service_id))
    return profile is not None and push_reachable(profile, service_id, preference)


def _candidates(
    rows: Sequence[asyncpg.Record], history: Sequence[asyncpg.Record], switches: Switches
) -> list[Candidate]:
    by_message: dict[str, list[SentReminder]] = defaultdict(list)
    by_rpt: dict[str, list[SentReminder]] = defaultdict(list)
    for h in history:
        sent = SentReminder(NotificationKind(h["kind"]), h["sent_at"])
        if sent.kind in PAYMENT_KINDS and h["rpt_id"] is not None:
            by_rpt[h["rpt_id"]].append(sent)
        else:
            by_message[h["message_id"]].append(sent)
    found = []
    for r in rows:
        message = MessageState(**dict(r), push_reachable=_reachable(r, switches))
        past = by_message[message.id] + (by_rpt[message.rpt_id] if message.rpt_id else [])
        found.append(Candidate(message, tuple(past)))
    return found


@repository
class PostgresReminders:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def candidates(self, now: datetime, rules: ReminderSettings) -> list[Candidate]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_CANDIDATES, *_bounds(now, rules))
            if not rows:
                return []
            history = await conn.fetch(
                _HISTORY,
                [r["id"] for r in rows],
                sorted({r["rpt_id"] for r in rows if r["rpt_id"] is not None}),
            )
            switches = await conn.fetch(
                _SWITCHES,
                sorted({r["fiscal_code"] for r in rows}),
                sorted({r["sender_service_id"] for r in rows}),
            )
        return _candidates(rows, history, _switches(switches))

    async def record(
        self, planned: Sequence[ReminderDue], now: datetime, deadline: datetime
    ) -> None:
        await self._pool.execute(
            _RECORD,
            [p.id for p in planned],
            [p.message.id for p in planned],
            [p.message.rpt_id for p in planned],
            [p.kind.value for p in planned],
            [p.ordinal for p in planned],
            [now] * len(planned),
            [p.message.fiscal_code for p in planned],
            [p.message.sender_service_id for p in planned],
            [deadline] * len(planned),
        )

    async def unpublished(self) -> list[NotificationRequest]:
        rows = await self._pool.fetch(_UNPUBLISHED)
        return [
            NotificationRequest(
                notification_id=r["id"],
                message_id=r["message_id"],
                fiscal_code=r["fiscal_code"],
                sender_service_id=r["sender_service_id"],
                channel=Channel.PUSH,
                deadline=r["deadline"],
                kind=NotificationKind(r["kind"]),
            )
            for r in rows
        ]

    async def mark_published(self, reminder_ids: Sequence[str], now: datetime) -> None:
        await self._pool.execute(_MARK, list(reminder_ids), now)


@repository
class AdvisoryLock:
    """A PostgreSQL session advisory lock on a connection of its own (not the pool's):
    held for as long as that connection lives; `release()` closes it (idempotent)."""

    def __init__(self, url: str, key: int) -> None:
        self._url = url
        self._key = key
        self._conn: asyncpg.Connection | None = None

    async def try_acquire(self) -> bool:
        """True once held (connecting first if needed); False while another holds it."""
        if self._conn is None:
            self._conn = await asyncpg.connect(self._url)
        held: bool = await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key)
        return held

    async def check(self) -> None:
        """Raises `RetryableError` when the session (and with it the lock) is gone."""
        if self._conn is None:
            raise RetryableError("advisory lock not held")
        await self._conn.execute("SELECT 1")

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
