"""Request bodies and views of the back-office (docs/integrators/services.md): services and
profiles.

Unknown fields are refused here (unlike IO's message body): an operator's typo must
not pass silently.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.enums import (
    BlockedChannel,
    CallbackEventKind,
    PreferencesMode,
    ReminderConsent,
    ServiceScope,
    ServiceState,
)
from schemas.messages import Amount, FiscalCode, OrganizationFiscalCode
from worker.services.backoffice_model import IO_ONLY, ServiceRecord, missing_card_fields
from worker.services.model import Profile

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Cidr = Annotated[str, Meta(min_length=1, max_length=64, description="IPv4/IPv6 network")]
Rate = Annotated[int, Meta(ge=1, le=100_000)]
Quota = Annotated[int, Meta(ge=1, le=2_000_000_000)]
Url = Annotated[str, Meta(min_length=1, max_length=2048)]
Recipients = Annotated[list[FiscalCode], Meta(max_length=10_000)]
Cidrs = Annotated[list[Cidr], Meta(max_length=1_000)]
#: Other bodies a service may collect payments for (the sender is the creditor otherwise).
Payees = Annotated[list[OrganizationFiscalCode], Meta(max_length=100)]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2}_[A-Z]{2}$")]
Email = Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
CallbackEvents = Annotated[
    list[CallbackEventKind],
    Meta(
        max_length=len(CallbackEventKind),
        description=(
            "The status event kinds sent to the callback (null: every kind the service is"
            " entitled to). read and paid are sent only for ADVANCED messages, read only"
            " with the citizen's consent."
        ),
    ),
]


def _check_events(events: list[CallbackEventKind] | UnsetType | None) -> None:
    if events and len(set(events)) != len(events):
        raise ValueError("callback_events: each kind at most once")


Description = Annotated[str, Meta(min_length=1, max_length=10_000)]
HttpsUrl = Annotated[str, Meta(pattern=r"^https://[^\s/?#]+[^\s]*$", max_length=2048)]
Phone = Annotated[str, Meta(pattern=r"^\+?[0-9][0-9 .\-/]{4,30}$")]
HeaderName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]
Secret = Annotated[str, Meta(min_length=16, max_length=512, pattern=r"^[\x21-\x7e]+$")]


class RemoteContentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How Postino calls the sender for remote content; `key` is never shown again."""

    base_url: Url
    header_key_name: HeaderName = "Ocp-Apim-Subscription-Key"
    key: Secret


class RemoteContentView(msgspec.Struct, kw_only=True):
    base_url: str
    header_key_name: str


def _check_cidrs(cidrs: list[str] | UnsetType) -> None:
    for cidr in cidrs or ():
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ValueError(f"authorized_cidrs: {cidr!r} is not a network") from exc


class ServiceCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    organization_name: Name
    organization_fiscal_code: OrganizationFiscalCode
    premium: bool = False
    payments: bool = False
    max_allowed_payment_amount: Amount = 1_000_000
    payee_fiscal_codes: Payees = msgspec.field(default_factory=list)
    authorized_recipients: Recipients = msgspec.field(default_factory=list)
    authorized_cidrs: Cidrs = msgspec.field(default_factory=list)
    require_secure_channels: bool = False
    callback_url: Url | None = None
    callback_events: CallbackEvents | None = None
    rate_per_second: Rate | None = None
    daily_quota: Quota | None = None
    eu_covid_cert: bool = False
    description: Description | None = None
    privacy_url: HttpsUrl | None = None
    scope: ServiceScope | None = None
    email: Email | None = None
    pec: Email | None = None
    phone: Phone | None = None
    support_url: HttpsUrl | None = None
    remote_content: RemoteContentBody | None = None

    def __post_init__(self) -> None:
        _check_cidrs(self.authorized_cidrs)
        _check_events(self.callback_events)


class ServicePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Only the fields given change; `null` clears the optional ones."""

    name: Name | UnsetType = UNSET
    organization_name: Name | UnsetType = UNSET
    organization_fiscal_code: OrganizationFiscalCode | UnsetType = UNSET
    premium: bool | UnsetType = UNSET
    payments: bool | UnsetType = UNSET
    max_allowed_payment_amount: Amount | UnsetType = UNSET
    payee_fiscal_codes: Payees | UnsetType = UNSET
    authorized_recipients: Recipients | UnsetType = UNSET
    authorized_cidrs: Cidrs | UnsetType = UNSET
    require_secure_channels: bool | UnsetType = UNSET
    callback_url: Url | UnsetType | None = UNSET
    callback_events: CallbackEvents | UnsetType | None = UNSET
    rate_per_second: Rate | UnsetType | None = UNSET
    daily_quota: Quota | UnsetType | None = UNSET
    eu_covid_cert: bool | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    privacy_url: HttpsUrl | UnsetType | None = UNSET
    scope: ServiceScope | UnsetType | None = UNSET
    email: Email | UnsetType | None = UNSET
    pec: Email | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET
    support_url: HttpsUrl | UnsetType | None = UNSET
    remote_content: RemoteContentBody | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        _check_cidrs(self.authorized_cidrs)
        _check_events(self.callback_events)

    def changes(self) -> dict[str, Any]:
        """The fields given, as plain values (UNSET ones left out)."""
        values: dict[str, Any] = msgspec.to_builtins(self)
        return values


class RejectBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(min_length=1, max_length=2000)]


class PublicationView(msgspec.Struct, kw_only=True):
    """The published copy: the last approved version, served while `published`."""

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
    payee_fiscal_codes: list[str] = msgspec.field(default_factory=list)
    description: str | None = None
    privacy_url: str | None = None
    scope: ServiceScope | None = None
    email: str | None = None
    pec: str | None = None
    phone: str | None = None
    support_url: str | None = None


class ServiceView(msgspec.Struct, kw_only=True):
    """A service as the back-office sees it: the working version (`version`, `state`)
    with its operational settings, and `publication`, the approved copy citizens and
    senders are served while `published`. `api_key` (= `primary_key`),
    `secondary_key` and `callback_secret` appear only in the answer that created them
    (creation, key rotation, setting a callback URL); the remote content key never."""

    id: str
    version: int
    name: str
    organization_name: str
    organization_fiscal_code: str
    state: ServiceState
    published: bool
    premium: bool
    payments: bool
    max_allowed_payment_amount: int
    authorized_recipients: list[str]
    authorized_cidrs: list[str]
    require_secure_channels: bool
    created_at: datetime
    updated_at: datetime
    reject_reason: str | None = None
    callback_url: str | None = None
    callback_events: list[CallbackEventKind] | None = None
    rate_per_second: int | None = None
    daily_quota: int | None = None
    eu_covid_cert: bool = False
    payee_fiscal_codes: list[str] = msgspec.field(default_factory=list)
    description: str | None = None
    privacy_url: str | None = None
    scope: ServiceScope | None = None
    email: str | None = None
    pec: str | None = None
    phone: str | None = None
    support_url: str | None = None
    #: Fields a review would ask for (empty: the card is complete).
    card_missing: list[str] = msgspec.field(default_factory=list)
    remote_content: RemoteContentView | None = None
    has_secondary_key: bool = False
    publication: PublicationView | None = None
    api_key: str | UnsetType = UNSET
    primary_key: str | UnsetType = UNSET
    secondary_key: str | UnsetType = UNSET
    callback_secret: str | UnsetType = UNSET


class ServicePage(msgspec.Struct, kw_only=True):
    """One page of services, by id; `next` is the cursor of the next page (or null)."""

    items: list[ServiceView]
    next: str | None


def service_view(row: ServiceRecord, **secrets: str | None) -> ServiceView:
    """The view of a record; `secrets` (api_key, primary_key, secondary_key,
    callback_secret) are shown when given, in this one answer."""
    values = msgspec.structs.asdict(row)
    values["state"] = ServiceState(row.state)
    values["card_missing"] = missing_card_fields(row)
    for name in ("remote_content_key", "auto_publish", *IO_ONLY):
        values.pop(name, None)
    base_url = values.pop("remote_content_base_url", None)
    header = values.pop("remote_content_header_key_name", None)
    if base_url is not None and header is not None:
        values["remote_content"] = RemoteContentView(base_url=base_url, header_key_name=header)
    copy = values.pop("publication", None)
    if copy is not None:
        published = msgspec.structs.asdict(copy)
        for name in IO_ONLY:
            published.pop(name, None)
        values["publication"] = PublicationView(**published)
    view = ServiceView(**values)
    for name, value in secrets.items():
        if value is not None:
            setattr(view, name, value)
    return view


class ProfileBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A citizen profile, created or replaced whole (omitted fields take the defaults)."""

    inbox_enabled: bool = True
    push_enabled: bool = True
    email: Email | None = None
    email_validated: bool = False
    email_enabled: bool = True
    preferences_mode: PreferencesMode = PreferencesMode.AUTO
    blocked_channels: dict[str, list[BlockedChannel]] = msgspec.field(default_factory=dict)
    reminder_consent: ReminderConsent = ReminderConsent.UNSET
    preferred_languages: Annotated[list[Language], Meta(min_length=1, max_length=10)] = (
        msgspec.field(default_factory=lambda: ["it_IT"])
    )

    def profile(self, fiscal_code: str) -> Profile:
        return Profile(
            fiscal_code=fiscal_code,
            inbox_enabled=self.inbox_enabled,
            push_enabled=self.push_enabled,
            email=self.email,
            email_validated=self.email_validated,
            email_enabled=self.email_enabled,
            preferences_mode=self.preferences_mode.value,
            blocked_channels={k: [c.value for c in v] for k, v in self.blocked_channels.items()},
            reminder_consent=self.reminder_consent.value,
            preferred_languages=tuple(self.preferred_languages),
        )


class ProfileView(ProfileBody, kw_only=True):
    fiscal_code: FiscalCode
