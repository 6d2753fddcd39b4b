"""notify: notification requests -> one push or e-mail each -> channel status + event.

Guarantees, per notification id (message, channel, kind):
- sent at most once in normal operation: a row is claimed (its own transaction)
  before the send and released with the outcome; a request whose attempt is already
  past (`attempts` moved on), whose row is final, or whose row is claimed, sends
  nothing. A crash mid-send leaves the claim; the sweeper re-drives it later.
- every status change (SENT, THROTTLED, EXPIRED, FAILED) bumps `messages.status_seq`
  in the same transaction, and the event is built from the stored row, so a redone
  batch re-emits the identical event.
- a transient failure never blocks the partition: the request goes to a retry tier
  with `attempt + 1` and `due_at`; past the deadline the channel is EXPIRED, without
  another attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from schemas import codecs
from schemas.enums import Channel, NotificationStatus
from schemas.events import NotificationRequest, NotificationStatusChanged
from schemas.topics import NOTIFICATION_RETRY_TIERS, Topic, Topics
from worker import logs, metrics
from worker.core.batch import BatchResult, DeadLetter, due_header
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord, Record
from worker.services.attempts import AttemptJournal, NoJournal, notification_attempt
from worker.services.notify_ports import (
    Channels,
    NotificationRow,
    NotifyContext,
    NotifyStore,
    Outcome,
)
from worker.services.notify_send import send_one
from worker.services.retry import next_retry
from worker.settings import NotifySettings

log = logs.get("postino.notify")

FINAL = frozenset({NotificationStatus.SENT, NotificationStatus.EXPIRED, NotificationStatus.FAILED})
_MAX_CONCURRENT_SENDS = 50


@dataclass(slots=True)
class NotifyDeps:
    store: NotifyStore
    channels: Channels
    topics: Topics
    settings: NotifySettings
    clock: Callable[[], datetime]
    journal: AttemptJournal = field(default_factory=NoJournal)


@dataclass(slots=True)
class _Plan:
    send: list[NotificationRequest] = field(default_factory=list)
    expire: list[NotificationRequest] = field(default_factory=list)
    replay: list[NotificationRow] = field(default_factory=list)


def _decode(records: Sequence[Record]) -> tuple[list[NotificationRequest], list[DeadLetter]]:
    good: list[NotificationRequest] = []
    dead: list[DeadLetter] = []
    seen: set[tuple[str, int]] = set()
    for record in records:
        try:
            request = codecs.NOTIFICATION.decode(record.value or b"")
        except msgspec.DecodeError as exc:
            dead.append(DeadLetter(record, "invalid_notification_request", str(exc)[:300]))
            continue
        key = (request.notification_id, request.attempt)
        if key not in seen:  # the same attempt twice in one batch: once is enough
            seen.add(key)
            good.append(request)
    return good, dead


def status_event(row: NotificationRow) -> NotificationStatusChanged:
    if row.status_seq is None:
        raise ValueError(f"notification {row.id} has no status event yet")
    return NotificationStatusChanged(
        message_id=row.message_id,
        sender_service_id=row.sender_service_id,
        seq=row.status_seq,
        at=row.updated_at,
        channel=Channel(row.channel),
        notification_kind=row.kind,
        status=NotificationStatus(row.status),
        attempt=row.attempts,
    )


def _plan(
    requests: Sequence[NotificationRequest], rows: dict[str, NotificationRow], now: datetime
) -> _Plan:
    plan = _Plan()
    for request in requests:
        row = rows.get(request.notification_id)
        if row is not None and (row.status in FINAL or row.attempts > request.attempt):
            if row.status_seq is not None:
                plan.replay.append(row)  # redelivered: re-emit the stored event
        elif row is not None and row.claimed_at is not None:
            log.info("notification_claimed_elsewhere", notification_id=request.notification_id)
        elif now >= request.deadline:
            plan.expire.append(request)
        else:
            plan.send.append(request)
    return plan


async def _attempt(
    request: NotificationRequest, context: NotifyContext, deps: NotifyDeps, gate: asyncio.Semaphore
) -> Outcome:
    attempts = request.attempt + 1
    try:
        async with gate:
            await send_one(request, context, deps.channels, deps.settings.call_attempts)
    except PermanentError as exc:
        return Outcome(request, NotificationStatus.FAILED, attempts, str(exc)[:300])
    except Exception as exc:
        if not isinstance(exc, RetryableError):
            log.error("notification_send_crashed", error=type(exc).__name__)
        return _retry_or_expire(request, attempts, str(exc)[:300], deps)
    return Outcome(request, NotificationStatus.SENT, attempts)


def _retry_or_expire(
    request: NotificationRequest, attempts: int, error: str, deps: NotifyDeps
) -> Outcome:
    retry = next_retry(
        attempts,
        deps.clock(),
        request.deadline,
        deps.settings.retry_delays,
        NOTIFICATION_RETRY_TIERS,
    )
    if retry is None:
        return Outcome(request, NotificationStatus.EXPIRED, attempts, error)
    return Outcome(request, NotificationStatus.THROTTLED, attempts, error, retry.due_at, retry.tier)


def _retry_record(outcome: Outcome, row: NotificationRow, topics: Topics) -> OutRecord:
    if outcome.tier is None or row.due_at is None:
        raise ValueError(f"notification {row.id} has no retry scheduled")
    request = msgspec.structs.replace(outcome.request, attempt=row.attempts, due_at=row.due_at)
    return OutRecord(
        topics.name(outcome.tier),
        codecs.NOTIFICATION.encode(request),
        request.fiscal_code.encode(),
        (due_header(row.due_at.timestamp()),),
    )


def _event_record(row: NotificationRow, topics: Topics) -> OutRecord:
    return OutRecord(
        topics.name(Topic.STATUS), codecs.STATUS.encode(status_event(row)), row.message_id.encode()
    )


async def notify_batch(records: Sequence[Record], deps: NotifyDeps) -> BatchResult:
    requests, dead = _decode(records)
    if not requests:
        return BatchResult(dead=dead)
    rows = await deps.store.load_rows(sorted({r.notification_id for r in requests}))
    plan = _plan(requests, rows, deps.clock())
    outcomes = [
        Outcome(r, NotificationStatus.EXPIRED, r.attempt, "deadline passed") for r in plan.expire
    ]
    if plan.send:
        context = await deps.store.load_context(plan.send)
        claimed = await deps.store.claim(plan.send, deps.clock())
        gate = asyncio.Semaphore(_MAX_CONCURRENT_SENDS)
        to_send = [r for r in plan.send if r.notification_id in claimed]
        outcomes += await asyncio.gather(*(_attempt(r, context, deps, gate) for r in to_send))
    stored = await deps.store.record_outcomes(outcomes)
    out = [_event_record(row, deps.topics) for row in plan.replay]
    for outcome, (row, changed) in zip(outcomes, stored, strict=True):
        metrics.NOTIFICATIONS.labels(channel=row.channel, status=outcome.status).inc()
        deps.journal.add(notification_attempt(outcome, row.updated_at))
        if changed:
            out.append(_event_record(row, deps.topics))
        if outcome.tier is not None and row.status == NotificationStatus.THROTTLED:
            out.append(_retry_record(outcome, row, deps.topics))
        log.info(
            "notification_attempted",
            notification_id=row.id,
            status=row.status,
            attempts=row.attempts,
        )
    return BatchResult(out=out, dead=dead)
