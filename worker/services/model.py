"""Domain values the services work on (not wire contracts: those are in schemas/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from schemas.enums import FailureReason, MessageStatus, RejectionReason
from schemas.messages import MessageContent
from worker.services.directory import Service


@dataclass(frozen=True, slots=True)
class Profile:
    fiscal_code: str
    inbox_enabled: bool = True
    push_enabled: bool = True
    email: str | None = None
    email_validated: bool = False
    email_enabled: bool = True
    preferences_mode: str = "AUTO"
    blocked_channels: dict[str, list[str]] = field(default_factory=dict)
    reminder_consent: str = "UNSET"
    preferred_languages: tuple[str, ...] = ("it_IT",)


@dataclass(frozen=True, slots=True)
class ServicePreference:
    is_inbox_enabled: bool = True
    is_push_enabled: bool = True
    is_email_enabled: bool = True
    can_access_message_read_status: bool = True


@dataclass(slots=True)
class DeliveryContext:
    profiles: dict[str, Profile] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    #: (fiscal_code, service_id) -> preference
    preferences: dict[tuple[str, str], ServicePreference] = field(default_factory=dict)


class InboxRow(msgspec.Struct, frozen=True):
    """One message row to write (a msgspec struct: one is built per record, and a
    frozen dataclass of this size costs several times more to build)."""

    id: str
    fiscal_code: str
    sender_service_id: str
    created_at: datetime
    time_to_live: int
    feature_level_type: str
    #: None: a record refused after its 201; its content stays in the DLQ only.
    content: MessageContent | None
    status: MessageStatus
    rejection_reason: RejectionReason | None = None
    failure_reason: FailureReason | None = None
    rpt_id: str | None = None
    due_date: datetime | None = None
    template_id: str | None = None
    template_version: int | None = None


class StoredMessage(msgspec.Struct, frozen=True):
    """The state of a message row after a write (what events are built from); its
    fields are the columns the write returns, in their order."""

    id: str
    fiscal_code: str
    sender_service_id: str
    status: str
    rejection_reason: str | None
    failure_reason: str | None
    created_at: datetime
    time_to_live: int
    processed_at: datetime
    rpt_id: str | None = None
    paid_at: datetime | None = None
    #: Set when the message was paid (on arrival or later): the seq of its MessagePaid.
    paid_seq: int | None = None
    feature_level_type: str = "STANDARD"
