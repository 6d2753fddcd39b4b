"""Response bodies of the sender API (docs/integrators/sending.md), as msgspec structs for the
OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from schemas.enums import (
    FeatureLevel,
    MessageStatus,
    NotificationStatus,
    PaymentStatus,
    ReadStatus,
    RejectionReason,
)
from schemas.messages import FiscalCode, MessageContent
from worker.ids import decode_ulid
from worker.services.read_status import read_facts, sender_read_status


class MessageCreated(msgspec.Struct):
    id: str


class MessageView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IO's `ExternalCreatedMessageWithContent`: `content` and `time_to_live` are absent
    while the message is `ACCEPTED` (not stored yet) and when it was refused after its
    201 (nothing kept)."""

    id: str
    fiscal_code: str
    sender_service_id: str
    created_at: datetime
    feature_level_type: FeatureLevel
    time_to_live: int | None = None
    content: MessageContent | None = None


class NotificationView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Status of the message's notification on each channel attempted."""

    push: NotificationStatus | None = None
    email: NotificationStatus | None = None


class MessageStatusView(msgspec.Struct, kw_only=True, omit_defaults=True):
    message: MessageView
    status: MessageStatus
    rejection_reason: RejectionReason | None = None
    notification: NotificationView | None = None
    read_status: ReadStatus | None = None
    payment_status: PaymentStatus | None = None


class LimitedProfile(msgspec.Struct):
    sender_allowed: bool
    preferred_languages: list[str]


class FiscalCodeBody(msgspec.Struct):
    fiscal_code: FiscalCode


def _notification(channels: dict[str, str] | None) -> NotificationView | None:
    if not channels:
        return None
    known = {s.value for s in NotificationStatus}
    values = {
        c.lower(): NotificationStatus(s)
        for c, s in channels.items()
        if c.lower() in ("push", "email") and s in known
    }
    return NotificationView(**values) if values else None


def _premium(row: dict[str, Any]) -> dict[str, Any]:
    if row["feature_level_type"] != FeatureLevel.ADVANCED or row["status"] != "PROCESSED":
        return {}
    extra: dict[str, Any] = {"read_status": sender_read_status(read_facts(row))}
    if (row["content"] or {}).get("payment_data") is not None:
        paid = row["paid_at"] is not None
        extra["payment_status"] = PaymentStatus.PAID if paid else PaymentStatus.NOT_PAID
    return extra


def _content(stored: Any) -> MessageContent | None:
    """The stored content; None for a message refused after its 201 (kept empty)."""
    if not stored:
        return None
    return msgspec.convert(stored, MessageContent, strict=False)


def status_view(row: dict[str, Any]) -> MessageStatusView:
    """The view of a stored message (row of `messages` joined with what the sender sees)."""
    message = MessageView(
        id=row["id"],
        fiscal_code=row["fiscal_code"],
        sender_service_id=row["sender_service_id"],
        time_to_live=row["time_to_live"],
        created_at=row["created_at"],
        feature_level_type=FeatureLevel(row["feature_level_type"]),
        content=_content(row["content"]),
    )
    reason = row["rejection_reason"]
    return MessageStatusView(
        message=message,
        status=MessageStatus(row["status"]),
        rejection_reason=RejectionReason(reason) if reason else None,
        notification=_notification(row["notification"]),
        **_premium(row),
    )


#: An id whose time part is this far from now was not made from a clock: it came from
#: an `Idempotency-Key` (`worker.ids`); a message waits `ACCEPTED` far less than this.
_CLOCK_WINDOW = timedelta(days=8)


def accepted_at(message_id: str, now: datetime) -> datetime:
    """When a message not yet processed was accepted: the time part of its id, or
    `now` for an id made from an idempotency key (its time part is not a time)."""
    time_ms = (decode_ulid(message_id) or 0) >> 80
    stamp = datetime.fromtimestamp(time_ms / 1000, UTC)
    return stamp if now - _CLOCK_WINDOW <= stamp <= now + timedelta(minutes=5) else now


def accepted_view(
    message_id: str, fiscal_code: str, service_id: str, level: str, now: datetime
) -> MessageStatusView:
    """A message the ingress accepted that deliver has not stored yet: what the id
    tells (IO's schema requires `created_at` and `feature_level_type` in every state)."""
    message = MessageView(
        id=message_id,
        fiscal_code=fiscal_code,
        sender_service_id=service_id,
        created_at=accepted_at(message_id, now),
        feature_level_type=FeatureLevel(level),
    )
    return MessageStatusView(message=message, status=MessageStatus.ACCEPTED)
