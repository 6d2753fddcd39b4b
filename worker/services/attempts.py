"""The attempts journal: one entry per notification or callback attempt, for the
operator console's "where is my message?".

notify and callbacks hand each outcome to an `AttemptJournal` (one call, never
awaited on their hot path); the journal writes them in the background. It is an
observation, not a source of truth: a journal that cannot write logs and drops,
and never fails the batch. Entry ids are deterministic, so a redone batch records
nothing twice. Details are a first line with fiscal codes and e-mail addresses
masked, as in the logs; no body ever goes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.events import (
    MessagePaid,
    MessageRead,
    MessageStatusChanged,
    NotificationStatusChanged,
    StatusEvent,
)
from worker import logs, tracing
from worker.services.notify_ports import Outcome

#: W3C trace context header, set when tracing is on (see the kafka/observability work).


@dataclass(frozen=True, slots=True)
class Attempt:
    id: str
    message_id: str
    at: datetime
    kind: str  # "notification" | "callback"
    #: PUSH / EMAIL for a notification; the event for a callback (e.g. "message:PROCESSED").
    channel: str
    attempt: int
    outcome: str
    #: The retry tier the next attempt waits in (notification), or that this one came
    #: from (callback).
    tier: str | None = None
    status_code: int | None = None
    detail: str | None = None
    trace_id: str | None = None


class AttemptJournal(Protocol):
    def add(self, attempt: Attempt) -> None:
        """Queue the entry for writing; returns at once, never raises."""
        ...


class NoJournal:
    """The journal of tests and tools that do not look at attempts."""

    def add(self, attempt: Attempt) -> None:
        return None


def safe_detail(text: str | None) -> str | None:
    if not text:
        return None
    return logs.safe_error_text(ValueError(text), 200)


def trace_id(headers: Sequence[tuple[str, bytes]]) -> str | None:
    """The trace id of a well-formed `traceparent` header (`tracing.trace_id_of`)."""
    return tracing.trace_id_of(tracing.record_traceparent(tuple(headers)))


def notification_attempt(outcome: Outcome, at: datetime, trace: str | None = None) -> Attempt:
    request = outcome.request
    return Attempt(
        id=f"n:{request.notification_id}:{outcome.attempts}:{outcome.status.value}",
        message_id=request.message_id,
        at=at,
        kind="notification",
        channel=request.channel.value
        if request.kind.value == "MESSAGE"
        else f"{request.channel.value} ({request.kind.value.lower()})",
        attempt=outcome.attempts,
        outcome=outcome.status.value,
        tier=outcome.tier.value if outcome.tier is not None else None,
        detail=safe_detail(outcome.error),
        trace_id=trace,
    )


def event_label(event: StatusEvent) -> str:
    if isinstance(event, MessageStatusChanged):
        return f"message {event.status.value}"
    if isinstance(event, NotificationStatusChanged):
        return f"{event.channel.value} {event.status.value}"
    if isinstance(event, MessageRead):
        return "read"
    if isinstance(event, MessagePaid):
        return "paid"
    return "event"


def callback_attempt(
    *,
    key: str,
    event: StatusEvent,
    attempt: int,
    outcome: str,
    at: datetime,
    topic: str,
    error: str | None = None,
    trace: str | None = None,
) -> Attempt:
    """`attempt` counts from 1; `error` is the adapter's text ("... answered 503")."""
    return Attempt(
        id=f"c:{key}:{attempt}",
        message_id=event.message_id,
        at=at,
        kind="callback",
        channel=event_label(event),
        attempt=attempt,
        outcome=outcome,
        tier=topic,
        status_code=_status_code(error),
        detail=safe_detail(error),
        trace_id=trace,
    )


def _status_code(error: str | None) -> int | None:
    """The receiver's HTTP status, which the adapter's failure text names."""
    if not error:
        return None
    _, found, rest = error.partition(" answered ")
    code = rest[:3]
    return int(code) if found and code.isdigit() else None
