"""IO's CMS API payloads (io-functions-services `openapi/index.yaml`, tag `manage`).

Requests: `CmsServicePayload` (create and update), `CmsReviewRequest`, `Logo`.
Answers: `CmsServiceLifecycle`, `CmsServicePublication`, `CmsServicePagination`,
`CmsSubscriptionKeys`, `CmsServiceTopicList`, `CmsServiceHistory`. Optional fields
are left out when empty, never `null` (IO's decoders refuse null for them), and
unknown request fields are ignored, as IO does. Postino adds a few fields of its own,
which IO's clients ignore: `version`, `card_missing`, the keys of a new service (shown
once) and, in the history, `action` and `actor`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.enums import ServiceScope
from schemas.messages import FiscalCode, OrganizationFiscalCode
from schemas.service_topics import ServiceTopic

Text = Annotated[str, Meta(min_length=1, max_length=200)]
LongText = Annotated[str, Meta(min_length=1, max_length=10_000)]
Link = Annotated[str, Meta(min_length=1, max_length=2048)]
Cidr = Annotated[str, Meta(min_length=1, max_length=64, description="IPv4/IPv6 network")]
PaymentCap = Annotated[int, Meta(ge=0, le=9_999_999_999, description="Euro cents")]
Email = Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
TopicId = Annotated[int, Meta(ge=0, description="A topic id of `getServiceTopics`")]
LifecycleStatus = Literal["draft", "submitted", "approved", "rejected", "deleted"]
PublicationStatus = Literal["published", "unpublished"]


class CmsOrganization(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The owner. In a request, Postino takes the body from the manage key."""

    name: Text
    fiscal_code: OrganizationFiscalCode
    department_name: Text | None = None


class _Metadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    scope: ServiceScope
    web_url: Link | None = None
    app_ios: Link | None = None
    app_android: Link | None = None
    tos_url: Link | None = None
    privacy_url: Link | None = None
    address: Text | None = None
    phone: Text | None = None
    email: Email | None = None
    pec: Email | None = None
    cta: LongText | None = None
    support_url: Link | None = None


class CmsServicePayloadMetadata(_Metadata, kw_only=True, omit_defaults=True):
    topic_id: TopicId


class CmsServiceMetadata(_Metadata, kw_only=True, omit_defaults=True):
    topic: ServiceTopic | None = None


class CmsServicePayload(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A service to create, or the whole new content of one (update replaces it)."""

    name: Text
    description: LongText
    organization: CmsOrganization
    metadata: CmsServicePayloadMetadata
    require_secure_channel: bool = False
    authorized_recipients: Annotated[list[FiscalCode], Meta(max_length=10_000)] = msgspec.field(
        default_factory=list
    )
    authorized_cidrs: Annotated[list[Cidr], Meta(max_length=1_000)] = msgspec.field(
        default_factory=list
    )
    max_allowed_payment_amount: PaymentCap | None = None


class CmsServiceLifecycleStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    value: LifecycleStatus
    reason: str | None = None


class _ServiceData(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    last_update: datetime
    metadata: CmsServiceMetadata
    name: str
    description: str
    organization: CmsOrganization
    require_secure_channel: bool
    authorized_recipients: list[str]
    authorized_cidrs: list[str]
    max_allowed_payment_amount: int
    version: int


class CmsServiceLifecycle(_ServiceData, kw_only=True, omit_defaults=True):
    """The working version and its lifecycle status."""

    status: CmsServiceLifecycleStatus
    #: Fields a review would ask for (empty: the card is complete). Postino's.
    card_missing: list[str] = msgspec.field(default_factory=list)
    #: The new service's keys, in the answer that created it only. Postino's.
    primary_key: str | UnsetType = UNSET
    secondary_key: str | UnsetType = UNSET


class CmsServicePublication(_ServiceData, kw_only=True, omit_defaults=True):
    """The published copy (the last approved version) and whether it is published."""

    status: PublicationStatus


class CmsPaginationResultSet(msgspec.Struct, kw_only=True):
    offset: int
    limit: int
    count: int


class CmsServicePagination(msgspec.Struct, kw_only=True):
    value: list[CmsServiceLifecycle]
    pagination: CmsPaginationResultSet


class CmsSubscriptionKeys(msgspec.Struct, kw_only=True):
    """A regenerated key is shown here once; the other one, stored hashed, is ""."""

    primary_key: str
    secondary_key: str


class CmsReviewRequest(msgspec.Struct, kw_only=True):
    auto_publish: bool = False


class CmsServiceTopicList(msgspec.Struct, kw_only=True):
    topics: list[ServiceTopic]


class Logo(msgspec.Struct, kw_only=True):
    logo: Annotated[str, Meta(min_length=1, description="A PNG image, base64")]


class CmsHistoryActor(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Who did it: `admin` (the platform), `manage_key` (with its id) or `system`."""

    kind: Literal["admin", "manage_key", "system"]
    id: str | None = None


class CmsServiceHistoryItemStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: Literal["lifecycle", "publication"]
    value: LifecycleStatus | PublicationStatus
    reason: str | None = None


class CmsServiceHistoryItem(_ServiceData, kw_only=True, omit_defaults=True):
    status: CmsServiceHistoryItemStatus
    action: str
    actor: CmsHistoryActor


class CmsServiceHistory(msgspec.Struct, kw_only=True, omit_defaults=True):
    items: list[CmsServiceHistoryItem]
    continuationToken: str | None = None
