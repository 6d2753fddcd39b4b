"""notify: notification requests -> one push or e-mail each -> channel status + event.

Guarantees, per notification id (message, channel, kind):
- sent at most once in normal operation: a row is claimed (by this instance, under a
  lease, committed) right before the send, and its outcome is recorded (committed)
  right after it, retried while the lease runs; a request whose attempt is already
  past (`attempts` moved on), whose row is final, or whose row is leased to another
  live instance, sends nothing. Claims and outcomes that come due while one such
  statement is in flight go together in the next (`GroupCommit`): one round trip
  per group, and each send still waits for its own claim and its own outcome.
- a crash costs at most the sends in flight at that moment (their outcome is in
  doubt, and they are sent again), never a stranded batch: the claims it leaves are
  re-driven when their lease expires, or at once when the instance starts again.
- a redone batch re-emits, from the stored rows, the status events and the retry
  records of the sends whose outcome was recorded before the crash.
- every status change (SENT, THROTTLED, EXPIRED, FAILED) bumps `messages.status_seq`
  in the same transaction, and the event is built from the stored row, so a redone
  batch re-emits the identical event.
- a transient failure never blocks the partition: the request goes to a retry tier
  with `attempt + 1` and `due_at`; past the deadline the channel is EXPIRED, without
  another attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from schemas import codecs
from schemas.enums import Channel, NotificationStatus
from schemas.events import NotificationRequest, NotificationStatusChanged
from schemas.topics import NOTIFICATION_RETRY_TIERS, Topic, Topics
from worker import logs, metrics
from worker.core.backoff import Backoff
from worker.core.batch import BatchResult, DeadLetter, due_header
from worker.core.errors import PermanentError, RetryableError
from worker.core.group_commit import GroupCommit
from worker.core.records import OutRecord, Record
from worker.services.attempts import AttemptJournal, NoJournal, notification_attempt
from worker.services.clock import Clock
from worker.services.notify_ports import (
    Channels,
    Lease,
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
    clock: Clock
    journal: AttemptJournal = field(default_factory=NoJournal)
    #: This instance, as the owner of its claims (unique among running instances).
    owner: str = "notify"


@dataclass(slots=True)
class _Plan:
    send: list[NotificationRequest] = field(default_factory=list)
    expire: list[NotificationRequest] = field(default_factory=list)
    replay: list[tuple[NotificationRequest, NotificationRow]] = field(default_factory=list)


Stored = tuple[Outcome, tuple[NotificationRow, bool]]
Claims = GroupCommit[NotificationRequest, Lease | None]
Outcomes = GroupCommit[tuple[Outcome, Lease], tuple[NotificationRow, bool]]


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
        except RecursionError:
            dead.append(
                DeadLetter(record, "nested_too_deep", "nested deeper than the decoder goes")
            )
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
    requests: Sequence[NotificationRequest],
    rows: dict[str, NotificationRow],
    now: datetime,
    owner: str,
) -> _Plan:
    plan = _Plan()
    for request in requests:
        row = rows.get(request.notification_id)
        if row is not None and (row.status in FINAL or row.attempts > request.attempt):
            if row.status_seq is not None:
                plan.replay.append((request, row))  # redelivered: re-emit from the row
        elif row is not None and row.leased_to_other(owner, now):
            log.info("notification_claimed_elsewhere", notification_id=request.notification_id)
        elif now >= request.deadline:
            plan.expire.append(request)
        else:
            plan.send.append(request)
    return plan


async def _attempt(
    request: NotificationRequest, context: NotifyContext, deps: NotifyDeps
) -> Outcome:
    attempts = request.attempt + 1
    try:
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


def _retry_record(
    request: NotificationRequest, tier: Topic, row: NotificationRow, topics: Topics
) -> OutRecord:
    if row.due_at is None:
        raise ValueError(f"notification {row.id} has no retry scheduled")
    request = msgspec.structs.replace(request, attempt=row.attempts, due_at=row.due_at)
    return OutRecord(
        topics.name(tier),
        codecs.NOTIFICATION.encode(request),
        request.fiscal_code.encode(),
        (due_header(row.due_at.timestamp()),),
    )


def _event_record(row: NotificationRow, topics: Topics) -> OutRecord:
    return OutRecord(
        topics.name(Topic.STATUS), codecs.STATUS.encode(status_event(row)), row.message_id.encode()
    )


def _tier_of(attempts: int) -> Topic:
    """The retry tier that waits for attempt `attempts + 1` (as `next_retry` picks it)."""
    return NOTIFICATION_RETRY_TIERS[min(attempts, len(NOTIFICATION_RETRY_TIERS)) - 1]


def _replayed(
    request: NotificationRequest, row: NotificationRow, topics: Topics
) -> list[OutRecord]:
    """What a redelivered request re-emits: the stored event, and the retry record when
    this request's attempt is the one that scheduled the row's next attempt (the
    crash may have come before that record was acknowledged)."""
    out = [_event_record(row, topics)]
    if (
        row.status == NotificationStatus.THROTTLED
        and row.attempts == request.attempt + 1
        and row.due_at is not None
        and row.claimed_at is None
    ):
        out.append(_retry_record(request, _tier_of(row.attempts), row, topics))
    return out


async def _claim_group(
    requests: list[NotificationRequest], deps: NotifyDeps
) -> list[Lease | BaseException | None]:
    """One claim statement for the group, under one lease taken now."""
    now = deps.clock()
    lease = Lease(deps.owner, now, now + timedelta(seconds=deps.settings.lease_seconds))
    claimed = await deps.store.claim(requests, lease)
    return [lease if r.notification_id in claimed else None for r in requests]


async def _record_group(
    items: list[tuple[Outcome, Lease]], deps: NotifyDeps
) -> list[tuple[NotificationRow, bool] | BaseException]:
    """Record the group's outcomes in one transaction; while the database is
    unreachable, retry each until its lease ends (past it, another instance may send
    again: that outcome is in doubt, and its send fails with the error)."""
    answers: dict[int, tuple[NotificationRow, bool] | BaseException] = {}
    waiting = list(range(len(items)))
    backoff = Backoff(0.05, 1.0)
    while waiting:
        try:
            stored = await deps.store.record_outcomes([items[i][0] for i in waiting])
        except RetryableError as exc:
            now = deps.clock()
            answers.update((i, exc) for i in waiting if now >= items[i][1].until)
            waiting = [i for i in waiting if i not in answers]
            if waiting:
                log.warning(
                    "notification_outcome_retry",
                    count=len(waiting),
                    error=logs.safe_error_text(exc, 200),
                )
                await asyncio.sleep(backoff.next())
            continue
        answers.update(zip(waiting, stored, strict=True))
        waiting = []
    return [answers[i] for i in range(len(items))]


async def _claim_send_record(
    request: NotificationRequest,
    context: NotifyContext,
    deps: NotifyDeps,
    gate: asyncio.Semaphore,
    groups: tuple[Claims, Outcomes],
) -> Stored | None:
    """Claim, send, record: the claim is taken right before the send (so its lease
    covers one send) and the outcome written right after it."""
    claims, outcomes = groups
    # A gathered task: the ids bound here reach its log lines and no other task's.
    ids = logs.bound(message_id=request.message_id, service_id=request.sender_service_id)
    async with gate:
        with ids:
            lease = await claims(request)
            if lease is None:
                log.info("notification_claimed_elsewhere", notification_id=request.notification_id)
                return None
            outcome = await _attempt(request, context, deps)
            return outcome, await outcomes((outcome, lease))


async def _send_all(
    requests: Sequence[NotificationRequest], context: NotifyContext, deps: NotifyDeps
) -> list[Stored]:
    """Every send runs to its recorded end before a failure is raised, so a redone batch
    finds each outcome in the rows (and nothing still in flight)."""
    gate = asyncio.Semaphore(_MAX_CONCURRENT_SENDS)
    claims: Claims = GroupCommit(lambda group: _claim_group(group, deps), "notify-claims")
    outcomes: Outcomes = GroupCommit(lambda group: _record_group(group, deps), "notify-outcomes")
    results = await asyncio.gather(
        *(_claim_send_record(r, context, deps, gate, (claims, outcomes)) for r in requests),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return [r for r in results if r is not None and not isinstance(r, BaseException)]


async def notify_batch(records: Sequence[Record], deps: NotifyDeps) -> BatchResult:
    requests, dead = _decode(records)
    if not requests:
        return BatchResult(dead=dead)
    rows, context = await deps.store.load_batch(requests)
    plan = _plan(requests, rows, deps.clock(), deps.owner)
    expired = [
        Outcome(r, NotificationStatus.EXPIRED, r.attempt, "deadline passed") for r in plan.expire
    ]
    results: list[Stored] = []
    if expired:
        results += zip(expired, await deps.store.record_outcomes(expired), strict=True)
    if plan.send:
        results += await _send_all(plan.send, context, deps)
    out = [rec for request, row in plan.replay for rec in _replayed(request, row, deps.topics)]
    for outcome, (row, changed) in results:
        metrics.NOTIFICATIONS.labels(channel=row.channel, status=outcome.status).inc()
        deps.journal.add(notification_attempt(outcome, row.updated_at))
        if changed:
            out.append(_event_record(row, deps.topics))
        if outcome.tier is not None and row.status == NotificationStatus.THROTTLED:
            out.append(_retry_record(outcome.request, outcome.tier, row, deps.topics))
        request = outcome.request
        with logs.bound(message_id=request.message_id, service_id=request.sender_service_id):
            log.info(
                "notification_attempted",
                notification_id=row.id,
                status=row.status,
                attempts=row.attempts,
            )
    return BatchResult(out=out, dead=dead)
