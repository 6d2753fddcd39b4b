"""The citizen app API's verbs: sessions, inbox pages, read and archive, preferences.

Guarantees:
- every read and write is scoped by the fiscal code of the session, never by an id
  alone, so a citizen cannot reach another citizen's data (unknown and foreign ids
  look the same: not found);
- read is one-way; marking a message read increments `messages.status_seq` in the
  same transaction and stores it as `read_seq`, with the citizen's read-status consent
  for the sender at that moment (`read_consent`); the `MessageRead` event built from
  the stored row is published (awaiting the ack) before the caller is answered, only
  when the sender may learn of the read (`sender_events.shares_read`).
  A retry on an already-read message re-emits the identical event (same `seq`), so
  a failed publish is repaired by retrying the request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from schemas import codecs
from schemas.enums import BlockedChannel, PreferencesMode
from schemas.events import MessageRead
from schemas.topics import Topic, Topics
from worker.core.records import OutRecord
from worker.services.model import Profile, ServicePreference
from worker.services.ports import Publisher
from worker.services.read_status import read_status_allowed
from worker.services.sender_events import shares_read
from worker.services.token_cache import UnknownTokens

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class InvalidRequest(ValueError):
    """The request cannot be honoured as given (a 400, with this text as detail)."""


class Conflict(ValueError):
    """The request clashes with the citizen's current settings (a 409)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Keyset position in an inbox: the last item shown (newest first)."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = msgspec.json.encode((self.created_at, self.id))
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            created_at, message_id = msgspec.json.decode(raw, type=tuple[datetime, str])
        except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
            raise InvalidRequest("cursor: not a cursor this API issued") from exc
        return cls(created_at, message_id)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MessageState:
    """A message's citizen-side state after a change."""

    id: str
    sender_service_id: str
    is_read: bool
    is_archived: bool
    read_at: datetime | None
    read_seq: int | None
    feature_level_type: str = "STANDARD"
    #: The citizen's read-status consent for the sender when the message was read.
    read_consent: bool | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What `PUT .../message-status` asks: None leaves that flag as it is."""

    is_read: bool | None = None
    is_archived: bool | None = None


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[dict[str, Any]]
    next: str | None


class CitizenStore(Protocol):
    async def profile(self, fiscal_code: str) -> Profile | None: ...

    async def create_session(self, token_hash: bytes, fiscal_code: str, expires: datetime) -> None:
        """Store a session (hash only) and drop this citizen's expired ones."""
        ...

    async def session_owner(self, token_hash: bytes) -> str | None:
        """The fiscal code of an unexpired session, else None."""
        ...

    async def inbox(
        self, fiscal_code: str, archived: bool, after: Cursor | None, limit: int
    ) -> list[dict[str, Any]]:
        """PROCESSED messages newest first (created_at, id), strictly after `after`."""
        ...

    async def message(self, fiscal_code: str, message_id: str) -> dict[str, Any] | None: ...

    async def change_status(
        self, fiscal_code: str, message_id: str, change: StatusChange
    ) -> MessageState | None:
        """Apply the change in one transaction (read: status_seq + 1 stored as read_seq)."""
        ...

    async def update_profile(self, fiscal_code: str, changes: dict[str, Any]) -> Profile | None: ...

    async def service_exists(self, service_id: str) -> bool: ...

    async def preference(self, fiscal_code: str, service_id: str) -> ServicePreference | None: ...

    async def save_preference(
        self,
        fiscal_code: str,
        service_id: str,
        preference: ServicePreference,
        absent: ServicePreference,
    ) -> None:
        """Store it; `absent` is what no stored preference means (the feed's "before")."""
        ...


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue_session(
    store: CitizenStore, fiscal_code: str, ttl_seconds: int, now: datetime
) -> Session | None:
    """A new random session token for an existing profile; None when there is none."""
    if await store.profile(fiscal_code) is None:
        return None
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=ttl_seconds)
    await store.create_session(token_hash(token), fiscal_code, expires)
    return Session(token, expires)


async def authenticate(
    store: CitizenStore, token: str | None, unknown: UnknownTokens | None = None
) -> str | None:
    """The fiscal code whose session `token` is, or None (missing, unknown, expired).
    A token found unknown is remembered in `unknown`, and answered from it."""
    if not token:
        return None
    hashed = token_hash(token)
    if unknown is not None and unknown.known_unknown(hashed):
        return None
    owner = await store.session_owner(hashed)
    if owner is None and unknown is not None:
        unknown.remember(hashed)
    return owner


def page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError as exc:
        raise InvalidRequest("page_size: expected an integer") from exc
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"page_size: expected 1..{MAX_PAGE_SIZE}")
    return size


async def inbox_page(
    store: CitizenStore, fiscal_code: str, size: int, cursor: str | None, archived: bool
) -> InboxPage:
    after = Cursor.decode(cursor) if cursor else None
    rows = await store.inbox(fiscal_code, archived, after, size + 1)
    items = rows[:size]
    more = len(rows) > size
    last = items[-1] if items else None
    nxt = Cursor(last["created_at"], last["id"]).encode() if more and last else None
    return InboxPage(items, nxt)


def read_event(state: MessageState) -> MessageRead | None:
    """The sender's `read` event, only when it may learn of the read
    (docs/integrators/callbacks.md)."""
    if not state.is_read or state.read_seq is None or state.read_at is None:
        return None
    if not shares_read(state.feature_level_type, bool(state.read_consent)):
        return None
    return MessageRead(
        message_id=state.id,
        sender_service_id=state.sender_service_id,
        seq=state.read_seq,
        at=state.read_at,
    )


async def change_message_status(
    store: CitizenStore,
    publisher: Publisher,
    topics: Topics,
    *,
    fiscal_code: str,
    message_id: str,
    change: StatusChange,
) -> MessageState | None:
    """Apply a read/archive change; on read, publish `MessageRead` and await the ack.

    Raises `RetryableError` when the event could not be published: the database
    change stays, and the retried request re-emits the same event.
    """
    if change.is_read is False:
        raise InvalidRequest("is_read: read is one-way; a read message cannot become unread")
    state = await store.change_status(fiscal_code, message_id, change)
    if state is None:
        return None
    event = read_event(state) if change.is_read else None
    if event is not None:
        record = OutRecord(
            topics.name(Topic.STATUS), codecs.STATUS.encode(event), message_id.encode()
        )
        await publisher.publish(record)
    return state


def effective_preference(
    profile: Profile, stored: ServicePreference | None, service_id: str
) -> ServicePreference:
    """The preference in force for one service, by the profile's preferences mode.

    LEGACY: derived from the profile's blocked channels, read status never shared
    (`read_status.read_status_allowed`). AUTO: stored, or everything allowed.
    MANUAL: stored, or everything blocked until the citizen enables it.
    """
    mode = profile.preferences_mode
    if mode == PreferencesMode.LEGACY:
        blocked = set(profile.blocked_channels.get(service_id, ()))
        return ServicePreference(
            is_inbox_enabled=BlockedChannel.INBOX not in blocked,
            is_push_enabled=BlockedChannel.PUSH not in blocked,
            is_email_enabled=BlockedChannel.EMAIL not in blocked,
            can_access_message_read_status=read_status_allowed(mode, None),
        )
    if stored is not None:
        return stored
    if mode == PreferencesMode.MANUAL:
        return ServicePreference(False, False, False, False)
    return ServicePreference()


async def save_preference(
    store: CitizenStore, profile: Profile, service_id: str, preference: ServicePreference
) -> ServicePreference:
    if profile.preferences_mode == PreferencesMode.LEGACY:
        raise Conflict(
            "preferences_mode is LEGACY: per-service preferences are the profile's"
            " blocked_channels; switch the profile to AUTO or MANUAL first"
        )
    absent = effective_preference(profile, None, service_id)
    await store.save_preference(profile.fiscal_code, service_id, preference, absent)
    return preference
