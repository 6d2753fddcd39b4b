"""The message body of the IO API (`NewMessage`) and the `messages.submitted` record.

The constraints live in the types, so the ingress decoder, the deliver decoder, the
JSON Schema for upstream producers and the OpenAPI document all come from here.
Unknown properties are ignored everywhere (msgspec's default), as IO does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from schemas.enums import FeatureLevel, HasPrecondition
from schemas.patterns import (
    FISCAL_CODE_PATTERN,
    NOTICE_NUMBER_PATTERN,
    ORGANIZATION_FISCAL_CODE_PATTERN,
)

FiscalCode = Annotated[str, Meta(pattern=FISCAL_CODE_PATTERN, description="Citizen fiscal code")]
OrganizationFiscalCode = Annotated[str, Meta(pattern=ORGANIZATION_FISCAL_CODE_PATTERN)]
NoticeNumber = Annotated[str, Meta(pattern=NOTICE_NUMBER_PATTERN)]
TimeToLive = Annotated[int, Meta(ge=3600, le=604800, description="Seconds; deprecated, honoured")]
Subject = Annotated[str, Meta(min_length=10, max_length=120)]
Markdown = Annotated[str, Meta(min_length=80, max_length=10000)]
Amount = Annotated[int, Meta(ge=1, le=9999999999, description="Euro cents")]
MessageId = Annotated[str, Meta(min_length=1, max_length=64)]
ServiceId = Annotated[str, Meta(min_length=1, max_length=64)]
TemplateId = Annotated[str, Meta(min_length=1, max_length=64, description="A template's id")]
TemplateVersion = Annotated[int, Meta(ge=1, description="A template's version (1, 2, ...)")]
PLACEHOLDER_NAME_PATTERN = r"^[A-Za-z0-9_]{1,64}$"


def to_utc(value: datetime) -> datetime:
    """A timestamp without offset is read as UTC; every stored timestamp is UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Payee(msgspec.Struct, kw_only=True, omit_defaults=True):
    fiscal_code: OrganizationFiscalCode


class PaymentData(msgspec.Struct, kw_only=True, omit_defaults=True):
    amount: Amount
    notice_number: NoticeNumber
    invalid_after_due_date: bool = False
    payee: Payee | None = None


class ThirdPartyData(msgspec.Struct, kw_only=True, omit_defaults=True):
    """IO's third-party message data (docs/integrators/remote-content.md): content kept on the
    sender's systems, fetched when the citizen opens the message. `has_remote_content`,
    `has_attachments`
    and a `has_precondition` other than NEVER need the service's remote content
    configuration."""

    id: Annotated[str, Meta(min_length=1, description="The sender's correlation id")]
    has_attachments: bool = False
    has_remote_content: bool = False
    has_precondition: HasPrecondition | None = None
    original_sender: str | None = None
    original_receipt_date: str | None = None
    summary: str | None = None
    configuration_id: str | None = None

    @property
    def needs_remote_content(self) -> bool:
        precondition = self.has_precondition not in (None, HasPrecondition.NEVER)
        return self.has_remote_content or self.has_attachments or precondition


class MessageContent(msgspec.Struct, kw_only=True, omit_defaults=True):
    subject: Subject
    markdown: Markdown
    due_date: datetime | None = None
    payment_data: PaymentData | None = None
    third_party_data: ThirdPartyData | None = None
    require_secure_channels: bool | None = None
    # Experimental IO fields: accepted and stored as given, no behaviour.
    prescription_data: dict[str, Any] | None = None
    eu_covid_cert: dict[str, Any] | None = None
    legal_data: dict[str, Any] | None = None
    payee: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.due_date is not None:
            self.due_date = to_utc(self.due_date)


class NewMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`POST /api/v1/messages` body, as IO defines it."""

    content: MessageContent
    fiscal_code: FiscalCode | None = None
    time_to_live: TimeToLive = 3600
    feature_level_type: FeatureLevel = FeatureLevel.STANDARD


class TemplateRef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Which template writes the subject and markdown, and the value of each placeholder
    (inserted as text). No version: the template's latest."""

    id: TemplateId
    version: TemplateVersion | None = None
    values: dict[
        Annotated[str, Meta(pattern=PLACEHOLDER_NAME_PATTERN)],
        Annotated[str, Meta(max_length=10000)],
    ] = msgspec.field(default_factory=dict)


class TemplatedMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`POST /api/v1/messages` written from a template: `template` instead of
    `content.subject` and `content.markdown`; every other `content` field as usual.
    The filled subject and markdown then follow every rule of `NewMessage`."""

    template: TemplateRef
    content: dict[str, Any] = msgspec.field(default_factory=dict)
    fiscal_code: FiscalCode | None = None
    time_to_live: TimeToLive = 3600
    feature_level_type: FeatureLevel = FeatureLevel.STANDARD


class SubmittedMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Value of `messages.submitted` (key: fiscal code).

    Written by the ingress after its checks, or by upstream systems directly. `id` is
    optional for upstream producers: when absent, deliver derives it from topic,
    partition and offset, so a replayed record keeps its id. `created_at` defaults to
    the record's timestamp.
    """

    sender_service_id: ServiceId
    fiscal_code: FiscalCode
    content: MessageContent
    id: MessageId | None = None
    created_at: datetime | None = None
    time_to_live: TimeToLive = 3600
    feature_level_type: FeatureLevel = FeatureLevel.STANDARD
    #: The template the subject and markdown were written from, when they were.
    template_id: TemplateId | None = None
    template_version: TemplateVersion | None = None

    def __post_init__(self) -> None:
        if self.created_at is not None:
            self.created_at = to_utc(self.created_at)
