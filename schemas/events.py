"""Values of `messages.status`, `notifications.*` and `payments.updates`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.enums import (
    Channel,
    FailureReason,
    MessageStatus,
    NotificationKind,
    NotificationStatus,
    RejectionReason,
)
from schemas.messages import FiscalCode, NoticeNumber, OrganizationFiscalCode


class _StatusEventBase(msgspec.Struct, kw_only=True, omit_defaults=True, tag_field="kind"):
    """Common part of every status event (key: message id).

    `seq` grows per message: a receiver that sees an event twice, or out of order,
    keeps the one with the highest `seq` for each aspect of the message.
    """

    message_id: str
    sender_service_id: str
    seq: Annotated[int, Meta(ge=1)]
    at: datetime


class MessageStatusChanged(_StatusEventBase, tag="message"):
    status: MessageStatus
    rejection_reason: RejectionReason | None = None
    failure_reason: FailureReason | None = None


class NotificationStatusChanged(_StatusEventBase, tag="notification"):
    channel: Channel
    notification_kind: NotificationKind
    status: NotificationStatus
    attempt: int = 0


class MessageRead(_StatusEventBase, tag="read"):
    pass


class MessagePaid(_StatusEventBase, tag="paid"):
    rpt_id: str
    paid_at: datetime | None = None


StatusEvent = MessageStatusChanged | NotificationStatusChanged | MessageRead | MessagePaid


class NotificationRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Value of `notifications.requested` and of the retry tiers (key: fiscal code).

    One record per channel. `notification_id` is derived from message id, channel and
    kind, so a redelivered request is recognised. In a retry tier, `attempt` counts the
    attempts made and `due_at` is the earliest time of the next one; `deadline` is
    `created_at + time_to_live`, after which the channel is `EXPIRED`.
    """

    notification_id: str
    message_id: str
    fiscal_code: FiscalCode
    sender_service_id: str
    channel: Channel
    deadline: datetime
    kind: NotificationKind = NotificationKind.MESSAGE
    attempt: int = 0
    due_at: datetime | None = None


class DebtorPosition(msgspec.Struct, kw_only=True, rename="camel"):
    notice_number: NoticeNumber


class Creditor(msgspec.Struct, kw_only=True):
    id_pa: OrganizationFiscalCode = msgspec.field(name="idPA")


class PaymentInfo(msgspec.Struct, kw_only=True, rename="camel"):
    payment_date_time: datetime | None = None
    amount: str | int | float | None = None


class PaymentEvent(msgspec.Struct, kw_only=True, rename="camel"):
    """Value of `payments.updates` (key: rpt_id): a pagoPA business event.

    Only the fields Postino uses are declared; everything else is ignored.
    """

    id: Annotated[str, Meta(min_length=1, max_length=128)]
    debtor_position: DebtorPosition
    creditor: Creditor
    payment_info: PaymentInfo = msgspec.field(default_factory=PaymentInfo)

    @property
    def rpt_id(self) -> str:
        return self.creditor.id_pa + self.debtor_position.notice_number


__all__ = [
    "Channel",
    "Creditor",
    "DebtorPosition",
    "FiscalCode",
    "MessagePaid",
    "MessageRead",
    "MessageStatusChanged",
    "NotificationRequest",
    "NotificationStatusChanged",
    "OrganizationFiscalCode",
    "PaymentEvent",
    "PaymentInfo",
    "StatusEvent",
]
