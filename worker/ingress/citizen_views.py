"""Request bodies and response views of the citizen app API (Postino's own contract)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from schemas.enums import PreferencesMode, ReminderConsent
from worker.services.citizen import InvalidRequest, MessageState, StatusChange
from worker.services.model import Profile, ServicePreference

Language = Annotated[str, Meta(pattern=r"^[a-z]{2}_[A-Z]{2}$")]


class MessageStatusBody(msgspec.Struct, kw_only=True):
    change_type: Literal["reading", "archiving", "bulk"]
    is_read: bool | None = None
    is_archived: bool | None = None

    def change(self) -> StatusChange:
        wants_read = self.change_type in ("reading", "bulk")
        wants_archive = self.change_type in ("archiving", "bulk")
        if wants_read and self.is_read is None:
            raise InvalidRequest(f"is_read: required for change_type {self.change_type}")
        if wants_archive and self.is_archived is None:
            raise InvalidRequest(f"is_archived: required for change_type {self.change_type}")
        return StatusChange(
            is_read=self.is_read if wants_read else None,
            is_archived=self.is_archived if wants_archive else None,
        )


class ProfilePatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What a citizen may change of their own profile (email is not among it)."""

    inbox_enabled: bool | UnsetType = UNSET
    push_enabled: bool | UnsetType = UNSET
    email_enabled: bool | UnsetType = UNSET
    preferences_mode: PreferencesMode | UnsetType = UNSET
    reminder_consent: ReminderConsent | UnsetType = UNSET
    preferred_languages: (
        Annotated[list[Language], Meta(min_length=1, max_length=10)] | UnsetType
    ) = UNSET

    def changes(self) -> dict[str, Any]:
        values = msgspec.structs.asdict(self)
        return {
            name: value.value if isinstance(value, PreferencesMode | ReminderConsent) else value
            for name, value in values.items()
            if value is not UNSET
        }


class PreferencesBody(msgspec.Struct, kw_only=True):
    is_inbox_enabled: bool
    is_push_enabled: bool
    is_email_enabled: bool
    can_access_message_read_status: bool

    def preference(self) -> ServicePreference:
        return ServicePreference(
            is_inbox_enabled=self.is_inbox_enabled,
            is_push_enabled=self.is_push_enabled,
            is_email_enabled=self.is_email_enabled,
            can_access_message_read_status=self.can_access_message_read_status,
        )


class SessionView(msgspec.Struct):
    token: str
    expires_at: str


class InboxItemView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    sender_service_id: str
    service_name: str | None
    organization_name: str | None
    created_at: str
    time_to_live: int
    feature_level_type: str
    subject: str | None
    is_read: bool
    is_archived: bool
    payment_data: dict[str, Any] | None = None
    due_date: str | None = None


class InboxPageView(msgspec.Struct):
    items: list[InboxItemView]
    next: str | None


class CitizenMessageView(InboxItemView, kw_only=True, omit_defaults=True):
    content: dict[str, Any]
    read_at: str | None


class MessageStateView(msgspec.Struct):
    id: str
    is_read: bool
    is_archived: bool
    read_at: str | None


class CitizenProfileView(msgspec.Struct):
    fiscal_code: str
    inbox_enabled: bool
    push_enabled: bool
    email: str | None
    email_validated: bool
    email_enabled: bool
    preferences_mode: PreferencesMode
    blocked_channels: dict[str, list[str]]
    reminder_consent: ReminderConsent
    preferred_languages: list[str]


class PreferenceView(msgspec.Struct):
    service_id: str
    is_inbox_enabled: bool
    is_push_enabled: bool
    is_email_enabled: bool
    can_access_message_read_status: bool


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _listed(row: dict[str, Any]) -> dict[str, Any]:
    """The fields every view of a message shows (as in the inbox)."""
    return {
        "id": row["id"],
        "sender_service_id": row["sender_service_id"],
        "service_name": row["service_name"],
        "organization_name": row["organization_name"],
        "created_at": row["created_at"].isoformat(),
        "time_to_live": row["time_to_live"],
        "feature_level_type": row["feature_level_type"],
        "subject": row["subject"],
        "is_read": row["is_read"],
        "is_archived": row["is_archived"],
        "payment_data": row["payment_data"] or None,
        "due_date": _iso(row["due_date"]) if row["due_date"] else None,
    }


def session_view(token: str, expires_at: datetime) -> SessionView:
    return SessionView(token, expires_at.isoformat())


def inbox_item(row: dict[str, Any]) -> InboxItemView:
    return InboxItemView(**_listed(row))


def inbox_page(rows: list[dict[str, Any]], next_cursor: str | None) -> InboxPageView:
    return InboxPageView([inbox_item(r) for r in rows], next_cursor)


def message_view(row: dict[str, Any]) -> CitizenMessageView:
    return CitizenMessageView(**_listed(row), content=row["content"], read_at=_iso(row["read_at"]))


def state_view(state: MessageState) -> MessageStateView:
    return MessageStateView(state.id, state.is_read, state.is_archived, _iso(state.read_at))


def profile_view(profile: Profile) -> CitizenProfileView:
    return CitizenProfileView(
        fiscal_code=profile.fiscal_code,
        inbox_enabled=profile.inbox_enabled,
        push_enabled=profile.push_enabled,
        email=profile.email,
        email_validated=profile.email_validated,
        email_enabled=profile.email_enabled,
        preferences_mode=PreferencesMode(profile.preferences_mode),
        blocked_channels=profile.blocked_channels,
        reminder_consent=ReminderConsent(profile.reminder_consent),
        preferred_languages=list(profile.preferred_languages),
    )


def preference_view(service_id: str, preference: ServicePreference) -> PreferenceView:
    return PreferenceView(service_id, **dataclasses.asdict(preference))
