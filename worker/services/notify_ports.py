"""What notify works on and needs: rows, the batch context, outcomes, and its ports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas.enums import NotificationKind, NotificationStatus
from schemas.events import NotificationRequest
from schemas.topics import Topic


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """The stored state of one notification (what events are built from)."""

    id: str
    message_id: str
    fiscal_code: str
    sender_service_id: str
    channel: str
    kind: NotificationKind
    status: NotificationStatus
    attempts: int
    deadline: datetime
    updated_at: datetime
    status_seq: int | None = None
    due_at: datetime | None = None
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None

    def leased_to_other(self, owner: str, now: datetime) -> bool:
        """Claimed by another instance whose lease still runs: that instance sends."""
        return (
            self.claimed_at is not None
            and self.claimed_by != owner
            and (self.lease_until is None or self.lease_until > now)
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str | None
    email_validated: bool
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MessageInfo:
    subject: str
    markdown: str
    #: The message's own `require_secure_channels`; None: the service's setting.
    require_secure_channels: bool | None


@dataclass(frozen=True, slots=True)
class SenderInfo:
    organization_name: str
    require_secure_channels: bool


@dataclass(slots=True)
class NotifyContext:
    recipients: dict[str, Recipient] = field(default_factory=dict)
    messages: dict[str, MessageInfo] = field(default_factory=dict)
    senders: dict[str, SenderInfo] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lease:
    """A claim's owner (one notify instance) and until when the others trust it."""

    owner: str
    now: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    request: NotificationRequest
    status: NotificationStatus
    attempts: int
    error: str | None = None
    due_at: datetime | None = None
    tier: Topic | None = None


class NotifyStore(Protocol):
    async def load_batch(
        self, requests: Sequence[NotificationRequest]
    ) -> tuple[dict[str, NotificationRow], NotifyContext]:
        """The stored rows of the requests (by notification id) and their context
        (profiles, messages, services), in one round trip."""
        ...

    async def claim(self, requests: Sequence[NotificationRequest], lease: Lease) -> set[str]:
        """Claim (insert or mark) for `lease.owner` every open row whose attempts match
        the request's and that is unclaimed, leased to this owner, or whose lease
        expired; commit; return the ids claimed. Raises `RetryableError` when the
        database is unreachable."""
        ...

    async def record_outcomes(
        self, outcomes: Sequence[Outcome]
    ) -> list[tuple[NotificationRow, bool]]:
        """Write each outcome (never over a final row) and release its claim; a status
        change bumps `messages.status_seq` in the same transaction (one statement per
        group); an outcome equal to its stored row writes nothing. Returns, in order,
        the stored row and whether it got a new status event. Raises `RetryableError`
        when the database is unreachable (nothing written)."""
        ...


class PushGateway(Protocol):
    async def send(self, push: Push) -> None: ...


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str, *, key: str | None = None) -> None:
        """Send one e-mail. `key` names it for good (the notification id): a resend
        after a crash carries the same Message-ID, so mail systems can drop the copy."""
        ...


@dataclass(frozen=True, slots=True)
class Push:
    fiscal_code: str
    message_id: str
    notification_id: str
    kind: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Channels:
    push: PushGateway | None
    mailer: Mailer | None
