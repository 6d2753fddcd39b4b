"""In-memory fakes of the ports: the same services and role handlers, without I/O.

Each fake keeps the contract its Protocol's docstring states (and the PostgreSQL
adapter implements), so the unit tests built on them specify the state machines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from schemas.enums import NotificationStatus
from schemas.events import NotificationRequest
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord
from worker.services.callback_send import Receiver
from worker.services.notify_ports import (
    Lease,
    NotificationRow,
    NotifyContext,
    Outcome,
    Push,
)

FINAL = {NotificationStatus.SENT, NotificationStatus.EXPIRED, NotificationStatus.FAILED}


class Clock:
    """A settable `worker.services.clock.Clock`: `clock()` is now (UTC); it moves only
    by `advance()`."""

    def __init__(self, now: datetime | None = None) -> None:
        start = now or datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("Clock needs a timezone-aware start")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: float | timedelta) -> datetime:
        """Move on by `step` (seconds or a timedelta); returns the new now."""
        self.now += step if isinstance(step, timedelta) else timedelta(seconds=step)
        return self.now


@dataclass
class FakeNotifications:
    """`NotifyStore` (and the sweeper's store) over a dict of rows."""

    context: NotifyContext = field(default_factory=NotifyContext)
    rows: dict[str, NotificationRow] = field(default_factory=dict)
    status_seq: dict[str, int] = field(default_factory=dict)
    #: Fail the next calls of these methods with a RetryableError (database down).
    down: set[str] = field(default_factory=set)

    def _check(self, method: str) -> None:
        if method in self.down:
            raise RetryableError(f"database unavailable ({method})")

    async def load_batch(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[dict[str, NotificationRow], NotifyContext]:
        self._check("load_batch")
        ids = {r.notification_id for r in requests}
        return {i: self.rows[i] for i in ids if i in self.rows}, self.context

    async def claim(self, requests: Sequence[NotificationRequest], lease: Lease) -> set[str]:
        self._check("claim")
        claimed: set[str] = set()
        held = {"claimed_at": lease.now, "claimed_by": lease.owner, "lease_until": lease.until}
        for r in requests:
            row = self.rows.get(r.notification_id)
            if row is None:
                row = NotificationRow(
                    r.notification_id, r.message_id, r.fiscal_code, r.sender_service_id,
                    r.channel.value, r.kind, NotificationStatus.THROTTLED, r.attempt,
                    r.deadline, lease.now, **held,
                )  # fmt: skip
            elif (
                row.attempts == r.attempt
                and row.status not in FINAL
                and not row.leased_to_other(lease.owner, lease.now)
            ):
                row = replace(row, **held)
            else:
                continue
            self.rows[r.notification_id] = row
            claimed.add(r.notification_id)
        return claimed

    async def record_outcomes(
        self, outcomes: Sequence[Outcome]
    ) -> list[tuple[NotificationRow, bool]]:
        self._check("record_outcomes")
        return [self._record(o) for o in outcomes]

    def _record(self, outcome: Outcome) -> tuple[NotificationRow, bool]:
        r = outcome.request
        previous = self.rows.get(r.notification_id)
        if previous is not None and previous.status in FINAL:
            return previous, False
        seq = previous.status_seq if previous is not None else None
        changed = previous is None or seq is None or previous.status != outcome.status
        if changed:
            seq = self.status_seq.get(r.message_id, 0) + 1
            self.status_seq[r.message_id] = seq
        row = NotificationRow(
            r.notification_id, r.message_id, r.fiscal_code, r.sender_service_id,
            r.channel.value, r.kind, outcome.status, outcome.attempts, r.deadline,
            datetime.now(UTC), seq, outcome.due_at, None,
        )  # fmt: skip
        self.rows[r.notification_id] = row
        return row, changed


@dataclass
class FakePushGateway:
    """Answers with the queued errors first, then accepts."""

    errors: list[Exception] = field(default_factory=list)
    sent: list[Push] = field(default_factory=list)

    async def send(self, push: Push) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(push)


@dataclass
class FakeMailer:
    errors: list[Exception] = field(default_factory=list)
    sent: list[tuple[str, str, str]] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str, *, key: str | None = None) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((to, subject, body))


@dataclass
class FakeCallbacks:
    """`CallbackStore` over dicts."""

    receivers_by_service: dict[str, Receiver] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)

    async def receivers(self, service_ids: Sequence[str]) -> dict[str, Receiver]:
        found = self.receivers_by_service
        return {s: found[s] for s in service_ids if s in found}

    async def settled(self, keys: Sequence[str]) -> set[str]:
        return {k for k in keys if k in self.outcomes}

    async def settle(self, key: str, outcome: str) -> None:
        self.outcomes.setdefault(key, outcome)

    async def prune(self, older_than: datetime) -> int:
        return 0


@dataclass
class FakeWebhookSender:
    """Answers each URL with its queued errors first, then accepts."""

    errors: dict[str, list[Exception]] = field(default_factory=dict)
    posts: list[tuple[str, bytes, Mapping[str, str]]] = field(default_factory=list)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        self.posts.append((url, body, headers))
        queued = self.errors.get(url)
        if queued:
            raise queued.pop(0)


@dataclass
class FakePublisher:
    records: list[OutRecord] = field(default_factory=list)

    async def publish(self, record: OutRecord) -> tuple[int, int]:
        self.records.append(record)
        return 0, len(self.records) - 1

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        self.records += records


__all__ = [
    "Clock",
    "FakeCallbacks",
    "FakeMailer",
    "FakeNotifications",
    "FakePublisher",
    "FakePushGateway",
    "FakeWebhookSender",
    "PermanentError",
    "RetryableError",
]
