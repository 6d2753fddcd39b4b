"""callbacks: status events -> signed POSTs to the sending service's callback URL.

docs/integrators/callbacks.md. Only the kinds the service chose (`callback_events`, default all) are
sent; `read` and `paid` reach `messages.status` only when the sender may learn them
(`worker.services.sender_events`). The body is the event exactly as it is on
`messages.status`; the header
`Postino-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the secret>`.
A receiver may get an event more than once and orders events by `seq`.

Isolation: the consumer of `messages.status` never waits for a receiver. For each
event it publishes a copy to the first retry tier (the safety net, due after the
first delay and the timeout) and starts the first attempt in the background, at
most `max_in_flight_per_service` per service. A first attempt that succeeds, or is
refused for good, is settled in `callback_deliveries` and its copy is skipped; one
that fails transiently (or a crash) leaves the copy to retry. So a hanging or dead
receiver delays nobody else's callbacks, and nothing is lost.

Retries: timeouts, connection errors, 408, 429 and 5xx go to the retry tiers with
growing delays until `max_age_seconds` after the event; other answers end it.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import msgspec

from schemas import codecs
from schemas.events import StatusEvent
from schemas.topics import CALLBACK_RETRY_TIERS, Topics
from worker import logs, metrics
from worker.core.batch import DUE_HEADER, BatchResult, DeadLetter, due_header
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord, Record
from worker.services.attempts import AttemptJournal, NoJournal, callback_attempt, trace_id
from worker.services.retry import call_with_retry, next_retry
from worker.services.sender_events import wanted
from worker.settings import CallbackSettings

log = logs.get("postino.callbacks")

SIGNATURE_HEADER = "Postino-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "postino-attempt"

#: The outcome counters, each child looked up once (not per event).
_OUTCOMES = {
    outcome: metrics.CALLBACKS.labels(outcome=outcome)
    for outcome in ("delivered", "refused", "failed", "queued", "deferred", "given_up")
}


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Receiver:
    url: str
    secret: str
    #: The event kinds the service wants (`callback_events`); None: every kind.
    events: frozenset[str] | None = None


class CallbackStore(Protocol):
    async def receivers(self, service_ids: Sequence[str]) -> dict[str, Receiver]: ...

    async def settled(self, keys: Sequence[str]) -> set[str]: ...

    async def settle(self, key: str, outcome: str) -> None: ...

    async def prune(self, older_than: datetime) -> int:
        """Forget settled deliveries older than `older_than`; returns how many."""
        ...


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None: ...


@dataclass(slots=True)
class CallbackDeps:
    store: CallbackStore
    sender: WebhookSender
    topics: Topics
    settings: CallbackSettings
    clock: Callable[[], datetime]
    journal: AttemptJournal = field(default_factory=NoJournal)


@dataclass(slots=True)
class _Job:
    record: Record
    event: StatusEvent
    attempt: int
    receiver: Receiver
    #: `event_key()` of the event, computed once.
    key: str
    #: No copy follows this attempt (past `max_age_seconds`): failing, it gives up.
    last: bool = False


def event_key(service_id: str, body: bytes) -> str:
    return f"{service_id}:{hashlib.sha256(body).hexdigest()[:32]}"


def _attempt_of(record: Record) -> int:
    raw = record.header(ATTEMPT_HEADER)
    return int(raw) if raw and raw.isdigit() else 0


async def _post(job: _Job, deps: CallbackDeps) -> None:
    body = job.record.value or b""
    stamp = int(deps.clock().timestamp())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(job.receiver.secret, body, stamp),
        # The same for every attempt of one event: a receiver may drop a repeat by it.
        IDEMPOTENCY_HEADER: job.key,
    }
    sender, url = deps.sender, job.receiver.url
    await call_with_retry(lambda: sender.post(url, body, headers), deps.settings.call_attempts)


def _retry(
    job: _Job, attempts_made: int, deps: CallbackDeps, min_delay: float = 0
) -> OutRecord | None:
    """The retry-tier copy for attempt `attempts_made + 1`, or None past `max_age_seconds`."""
    deadline = job.event.at + timedelta(seconds=deps.settings.max_age_seconds)
    now = deps.clock()
    retry = next_retry(
        attempts_made, now, deadline, deps.settings.retry_delays, CALLBACK_RETRY_TIERS
    )
    if retry is None:
        return None
    due_at = max(retry.due_at, now + timedelta(seconds=min_delay))
    headers = (
        *((k, v) for k, v in job.record.headers if k not in (ATTEMPT_HEADER, DUE_HEADER)),
        (ATTEMPT_HEADER, str(attempts_made).encode()),
        due_header(due_at.timestamp()),
    )
    return OutRecord(deps.topics.name(retry.tier), job.record.value or b"", job.record.key, headers)


async def _send(job: _Job, deps: CallbackDeps) -> str:
    """One attempt: "delivered", "refused" (settled either way) or "failed" (retry),
    its log lines bound to the event's message and service ids. Runs in a task of its
    own (`FirstAttempts`), so the ids are bound for that task only."""
    logs.bind(message_id=job.event.message_id, service_id=job.event.sender_service_id)
    return await _attempt(job, deps)


async def _attempt(job: _Job, deps: CallbackDeps) -> str:
    error: str | None = None
    try:
        await _post(job, deps)
    except PermanentError as exc:
        log.warning("callback_refused", error=logs.safe_error_text(exc, 200))
        outcome, error = "refused", str(exc)
    except Exception as exc:
        if not isinstance(exc, RetryableError):
            log.error("callback_send_crashed", error=type(exc).__name__)
        log.info("callback_failed", attempt=job.attempt + 1, error=logs.safe_error_text(exc, 200))
        outcome, error = "failed", str(exc)
    else:
        outcome = "delivered"
        log.debug("callback_delivered", attempt=job.attempt + 1)
    _OUTCOMES[outcome].inc()
    deps.journal.add(
        callback_attempt(
            key=job.key,
            event=job.event,
            attempt=job.attempt + 1,
            outcome=outcome,
            at=deps.clock(),
            topic=deps.topics.base(job.record.topic),
            error=error,
            trace=trace_id(job.record.headers),
        )
    )
    if outcome == "failed":
        return outcome
    await deps.store.settle(job.key, outcome)
    return outcome


#: An attempt over its service's bound waits in process at most this long for a slot
#: (well within the copy's grace, `timeout_seconds * 2 + 1`); after that its copy
#: retries it. Waiting attempts are bounded per service and in all.
MAX_WAIT_SECONDS = 0.5
MAX_WAITING_PER_SERVICE = 200
MAX_WAITING = 5000


class FirstAttempts:
    """Background attempts (first ones and retries), at most `max_in_flight_per_service`
    per service at once; `stop()` cancels what is left (each has its next retry-tier
    copy, so nothing is lost).

    An attempt over its service's bound may wait behind that service's attempts (not
    behind anyone else's) for at most `MAX_WAIT_SECONDS`, so a burst of one service's
    events is sent as its attempts end rather than a retry delay later. Only an
    attempt whose copy is already published waits; one that finds its service's queue
    full, or goes stale waiting, is dropped, and its copy retries it.

    An event is attempted at most once at a time here: `running(key)` tells whether
    it is (its attempt running or waiting). A batch consumed again while its attempts
    are in flight (a rebalance, a lost commit), or a copy come due before its earlier
    attempt ended, then publishes a copy instead of posting the event a second time
    in parallel."""

    def __init__(self, deps: CallbackDeps) -> None:
        self._deps = deps
        self._per_service: dict[str, int] = {}
        self._waiting: dict[str, collections.deque[tuple[datetime, _Job]]] = {}
        self._waiting_count = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Event keys with an attempt running or waiting here.
        self._live: set[str] = set()
        self._gate = asyncio.Semaphore(deps.settings.max_in_flight)
        self._bound = deps.settings.max_in_flight_per_service

    def running(self, key: str) -> bool:
        """Whether the event `key` has an attempt running or waiting here."""
        return key in self._live

    def start(self, job: _Job) -> bool:
        """Start the attempt if its service has a slot free; False: it has none."""
        if self._per_service.get(job.event.sender_service_id, 0) >= self._bound:
            return False
        self._start(job)
        return True

    def wait(self, job: _Job) -> None:
        """Queue the attempt behind its service's attempts, if there is room; either way
        its copy (already published) retries it should it not run."""
        service_id = job.event.sender_service_id
        if not self._room_for(service_id):
            _OUTCOMES["deferred"].inc()
            return
        self._waiting.setdefault(service_id, collections.deque()).append((self._deps.clock(), job))
        self._waiting_count += 1
        self._live.add(job.key)
        _OUTCOMES["queued"].inc()

    def _room_for(self, service_id: str) -> bool:
        queue = self._waiting.get(service_id)
        if queue is not None:
            self._drop_stale(queue)
        if self._waiting_count >= MAX_WAITING:
            for other in self._waiting.values():
                self._drop_stale(other)
        size = len(queue) if queue is not None else 0
        return size < MAX_WAITING_PER_SERVICE and self._waiting_count < MAX_WAITING

    def _drop_stale(self, queue: collections.deque[tuple[datetime, _Job]]) -> None:
        oldest = self._deps.clock() - timedelta(seconds=MAX_WAIT_SECONDS)
        while queue and queue[0][0] < oldest:
            self._live.discard(queue.popleft()[1].key)
            self._waiting_count -= 1
            _OUTCOMES["deferred"].inc()

    def _start(self, job: _Job) -> None:
        service_id = job.event.sender_service_id
        self._per_service[service_id] = self._per_service.get(service_id, 0) + 1
        self._live.add(job.key)
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next(self, service_id: str) -> None:
        """A slot of `service_id` is free: start its oldest waiting attempt still fresh."""
        queue = self._waiting.get(service_id)
        if queue is None:
            return
        self._drop_stale(queue)
        if queue:
            self._waiting_count -= 1
            self._start(queue.popleft()[1])
        if not queue:
            del self._waiting[service_id]

    async def _run(self, job: _Job) -> None:
        service_id = job.event.sender_service_id
        try:
            async with self._gate:
                outcome = await _send(job, self._deps)
            if outcome == "failed" and job.last:
                _given_up(job)
        except Exception as exc:  # settle failed (database): the copy will retry
            log.warning("callback_settle_failed", error=type(exc).__name__)
        finally:
            self._live.discard(job.key)
            self._per_service[service_id] -= 1
            self._next(service_id)

    @property
    def in_flight(self) -> int:
        """Attempts running or waiting."""
        return len(self._tasks) + self._waiting_count

    async def stop(self) -> None:
        for queue in self._waiting.values():  # their copies retry them
            self._live.difference_update(job.key for _, job in queue)
        self._waiting.clear()
        self._waiting_count = 0
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _decode(
    records: Sequence[Record],
) -> tuple[list[tuple[Record, StatusEvent, str]], list[DeadLetter]]:
    """(record, event, event key) of each record that decodes; dead letters for the rest."""
    good: list[tuple[Record, StatusEvent, str]] = []
    dead: list[DeadLetter] = []
    decode = codecs.STATUS.decode
    for record in records:
        body = record.value or b""
        try:
            event = decode(body)
        except msgspec.DecodeError as exc:
            dead.append(DeadLetter(record, "invalid_status_event", str(exc)[:300]))
            continue
        good.append((record, event, event_key(event.sender_service_id, body)))
    return good, dead


async def _jobs(
    records: Sequence[Record], deps: CallbackDeps
) -> tuple[list[_Job], list[DeadLetter]]:
    """The events still to send: decoded, not settled (a batch redone after a crash, or
    a copy whose earlier attempt delivered), of a service with a receiver that wants
    them. Settled events are dropped before the receivers are read (one round trip
    fewer when a batch holds only settled copies)."""
    decoded, dead = _decode(records)
    if not decoded:
        return [], dead
    settled = await deps.store.settled(sorted({key for _, _, key in decoded}))
    if settled:
        decoded = [item for item in decoded if item[2] not in settled]
        if not decoded:
            return [], dead
    receivers = await deps.store.receivers(sorted({e.sender_service_id for _, e, _ in decoded}))
    jobs = [
        _Job(record, event, _attempt_of(record), receiver, key)
        for record, event, key in decoded
        if (receiver := receivers.get(event.sender_service_id)) is not None
        and wanted(event, receiver.events)
    ]
    return jobs, dead


async def first_attempts_batch(
    records: Sequence[Record], deps: CallbackDeps, attempts: FirstAttempts
) -> BatchResult:
    """`messages.status`: a retry-tier copy of each event, and a background first attempt.

    Events already settled are skipped: a batch redone after a crash does not post
    again what its first run delivered (each attempt is settled right after its POST,
    so a crash leaves at most the POSTs in flight in doubt)."""
    jobs, dead = await _jobs(records, deps)
    # The copy is due only after the first attempt has surely ended (its timeout).
    grace = deps.settings.timeout_seconds * 2 + 1
    out: list[OutRecord] = []
    for job in jobs:
        copy = _retry(job, 1, deps, min_delay=grace)
        job.last = copy is None
        if attempts.running(job.key):  # consumed again while attempted: the copy alone
            _OUTCOMES["deferred"].inc()
            out += [copy] if copy is not None else []
        elif attempts.start(job):
            if copy is not None:
                out.append(copy)
        elif copy is None:
            _given_up(job)  # past `max_age_seconds` and no slot: nothing follows
        else:
            out.append(copy)
            attempts.wait(job)
    return BatchResult(out=out, dead=dead)


def _given_up(job: _Job) -> None:
    _OUTCOMES["given_up"].inc()
    log.warning("callback_given_up", message_id=job.event.message_id)


async def retry_batch(
    records: Sequence[Record], deps: CallbackDeps, attempts: FirstAttempts
) -> BatchResult:
    """The retry tiers, handled like `messages.status`: skip what is settled; for the
    rest, publish the next tier's copy (due after the attempt has surely ended) and
    start the attempt in the background, at most `max_in_flight_per_service` per
    service. The batch never waits for a receiver, so a slow or dead one delays no
    other service's retries; over its bound, an event waits briefly behind its own
    service's attempts, and its copy (counting no attempt) covers it."""
    jobs, dead = await _jobs(records, deps)
    grace = deps.settings.timeout_seconds * 2 + 1
    out: list[OutRecord] = []
    for job in jobs:
        if attempts.running(job.key):
            # Still being attempted here (this copy came due first): a copy of the same
            # attempt instead, so that attempt failing still has one after it.
            _OUTCOMES["deferred"].inc()
            out += [same] if (same := _retry(job, job.attempt, deps, min_delay=grace)) else []
            continue
        copy = _retry(job, job.attempt + 1, deps, min_delay=grace)
        job.last = copy is None
        if attempts.start(job):
            if copy is not None:
                out.append(copy)
            continue
        # No slot: the copy counts no attempt (same tier again), then the attempt may
        # still run from the service's queue before it (the copy then finds it settled).
        deferred = _retry(job, job.attempt, deps, min_delay=grace)
        if deferred is None:
            _given_up(job)
            continue
        out.append(deferred)
        job.last = False
        attempts.wait(job)
    return BatchResult(out=out, dead=dead)
