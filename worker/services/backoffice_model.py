"""Typed rows of the back office: services as stored, who acts, what a change leaves.

The repositories build these from database rows; the services and the ingress views
read them by attribute, never by column name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

#: Completeness of a service card (IO's `ValidService`, docs/integrators/services.md).
MIN_DESCRIPTION = 20
CONTACTS = ("email", "pec", "phone", "support_url")
#: IO's metadata beyond the card: the CMS API shows them, section 6's payload does not.
IO_ONLY = (
    "topic_id",
    "department_name",
    "web_url",
    "app_ios",
    "app_android",
    "tos_url",
    "address",
    "cta",
)


class PublicationRecord(msgspec.Struct, kw_only=True):
    """The published copy: the reviewed content of the last approved version."""

    version: int
    approved_at: datetime
    name: str
    organization_name: str
    organization_fiscal_code: str
    premium: bool
    payments: bool
    max_allowed_payment_amount: int
    authorized_recipients: list[str]
    require_secure_channels: bool
    eu_covid_cert: bool
    #: Bodies besides its own whose payment notices the service may send.
    payee_fiscal_codes: list[str] = msgspec.field(default_factory=list)
    description: str | None = None
    privacy_url: str | None = None
    scope: str | None = None
    email: str | None = None
    pec: str | None = None
    phone: str | None = None
    support_url: str | None = None
    topic_id: int | None = None
    department_name: str | None = None
    web_url: str | None = None
    app_ios: str | None = None
    app_android: str | None = None
    tos_url: str | None = None
    address: str | None = None
    cta: str | None = None


class ServiceRecord(msgspec.Struct, kw_only=True):
    """A service's working version with its operational settings (never key hashes
    nor secrets), and `publication`, the copy served while `published`."""

    id: str
    version: int
    name: str
    organization_name: str
    organization_fiscal_code: str
    state: str
    published: bool
    premium: bool
    payments: bool
    max_allowed_payment_amount: int
    authorized_recipients: list[str]
    authorized_cidrs: list[str]
    require_secure_channels: bool
    eu_covid_cert: bool
    created_at: datetime
    updated_at: datetime
    payee_fiscal_codes: list[str] = msgspec.field(default_factory=list)
    reject_reason: str | None = None
    callback_url: str | None = None
    callback_events: list[str] | None = None
    rate_per_second: int | None = None
    daily_quota: int | None = None
    description: str | None = None
    privacy_url: str | None = None
    scope: str | None = None
    email: str | None = None
    pec: str | None = None
    phone: str | None = None
    support_url: str | None = None
    topic_id: int | None = None
    department_name: str | None = None
    web_url: str | None = None
    app_ios: str | None = None
    app_android: str | None = None
    tos_url: str | None = None
    address: str | None = None
    cta: str | None = None
    auto_publish: bool = False
    remote_content_base_url: str | None = None
    remote_content_header_key_name: str | None = None
    has_secondary_key: bool = False
    publication: PublicationRecord | None = None

    def get(self, name: str) -> Any:
        """A column's value by name (the edit rules compare columns generically)."""
        return getattr(self, name, None)


def missing_card_fields(row: ServiceRecord) -> list[str]:
    """The card fields a review needs and this service lacks (empty: complete)."""
    missing = []
    if len(row.description or "") < MIN_DESCRIPTION:
        missing.append(f"description (at least {MIN_DESCRIPTION} characters)")
    if not (row.privacy_url or "").startswith("https://"):
        missing.append("privacy_url (https)")
    if row.scope not in ("NATIONAL", "LOCAL"):
        missing.append("scope (NATIONAL or LOCAL)")
    if not any(row.get(c) for c in CONTACTS):
        missing.append("one contact among email, pec, phone, support_url")
    return missing


class ActorKind(enum.StrEnum):
    ADMIN = "admin"
    MANAGE_KEY = "manage_key"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the platform admin, a body's manage key, or Postino itself."""

    kind: ActorKind
    #: The manage key's id (None for the admin and the system).
    id: str | None = None
    #: The body a manage key speaks for (None: every body).
    organization_fiscal_code: str | None = None

    def sees(self, service: ServiceRecord) -> bool:
        """A manage key sees only its own body's services; the others see all."""
        owner = self.organization_fiscal_code
        return owner is None or service.organization_fiscal_code == owner


ADMIN = Actor(ActorKind.ADMIN)
SYSTEM = Actor(ActorKind.SYSTEM)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of a service's history (written with the change it records)."""

    service_id: str
    at: datetime
    action: str
    actor: Actor
    #: IO's history status: kind lifecycle or publication, and the value after.
    kind: str
    status: str
    version: int
    service: dict[str, Any]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class StoredHistoryEntry:
    id: int
    service_id: str
    at: datetime
    action: str
    actor_kind: str
    actor_id: str | None
    kind: str
    status: str
    version: int
    service: dict[str, Any]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice to queue: `gate` de-duplicates it (one per gate per service per hour)."""

    service_id: str
    kind: str
    gate: str
    subject: str
    body: str
    recipients: tuple[str, ...]
    at: datetime
    #: The history entry that records it (queued with the notice, or not at all).
    history: HistoryEntry


@dataclass(slots=True)
class Trail:
    """What a change leaves beside the row: history entries and notices to queue."""

    history: list[HistoryEntry] = field(default_factory=list)
    notices: list[NoticeDraft] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Organization:
    fiscal_code: str
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ManageKey:
    """A manage key as listed: never its secret nor its hash."""

    id: str
    organization_fiscal_code: str
    created_at: datetime
    revoked_at: datetime | None = None
