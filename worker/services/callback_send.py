"""One callback attempt: the signed POST to the service's receiver, its outcome journaled
and, unless it failed transiently, settled in `callback_deliveries`; and the ports it
needs. `callbacks` decides when attempts run and which retry-tier copies follow them.

The header `Postino-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the
secret>` signs the body, the event exactly as it is on `messages.status`;
`Idempotency-Key` is the same for every attempt of one event.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas.events import StatusEvent
from schemas.topics import Topics
from worker import logs, metrics
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import Record
from worker.services.attempts import AttemptJournal, NoJournal, callback_attempt, trace_id
from worker.services.callback_health import CallbackHealth
from worker.services.clock import Clock
from worker.services.retry import call_with_retry
from worker.settings import CallbackSettings

log = logs.get("postino.callbacks")

SIGNATURE_HEADER = "Postino-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
ATTEMPT_HEADER = "postino-attempt"

#: The outcome counters, each child looked up once (not per event).
OUTCOMES = {
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
    clock: Clock
    journal: AttemptJournal = field(default_factory=NoJournal)
    #: Outcomes per service, in memory, for the "callbacks failing" notices.
    health: CallbackHealth = field(default_factory=CallbackHealth)


@dataclass(slots=True)
class Job:
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


def attempt_of(record: Record) -> int:
    raw = record.header(ATTEMPT_HEADER)
    return int(raw) if raw and raw.isdigit() else 0


async def _post(job: Job, deps: CallbackDeps) -> None:
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


async def send(job: Job, deps: CallbackDeps) -> str:
    """One attempt, POST and settlement: "delivered", "refused" (settled either way) or
    "failed" (retry)."""
    outcome = await post(job, deps)
    await settle(job, outcome, deps)
    return outcome


async def post(job: Job, deps: CallbackDeps) -> str:
    """The POST of one attempt, its outcome counted and journaled, not yet settled; its
    log lines bound to the event's message and service ids. Runs in a task of its own
    (`FirstAttempts`), so the ids are bound for that task only."""
    logs.bind(message_id=job.event.message_id, service_id=job.event.sender_service_id)
    return await _attempt(job, deps)


async def settle(job: Job, outcome: str, deps: CallbackDeps) -> None:
    """Record a delivered or refused event in `callback_deliveries` (its copies then
    send nothing); a failed one is left to its copy."""
    if outcome != "failed":
        await deps.store.settle(job.key, outcome)


async def _attempt(job: Job, deps: CallbackDeps) -> str:
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
    OUTCOMES[outcome].inc()
    deps.health.record(job.event.sender_service_id, outcome == "delivered", deps.clock())
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
    return outcome


def given_up(job: Job) -> None:
    OUTCOMES["given_up"].inc()
    log.warning("callback_given_up", message_id=job.event.message_id)
