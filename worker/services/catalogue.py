"""What citizens see of services: the catalogue of published services,
their cards as served (the published copy), with the citizen's own preference for
each (`citizen.effective_preference`: stored, or what the profile's mode means).

Pages are in service id order, after an opaque cursor; filters are IO's topic ids
(`schemas.service_topics`) and the scope (NATIONAL, LOCAL).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Protocol

from schemas.service_topics import topic
from worker.services.citizen import InvalidRequest, effective_preference
from worker.services.model import Profile, ServicePreference

SCOPES = ("NATIONAL", "LOCAL")


@dataclass(frozen=True, slots=True)
class Filters:
    topic_id: int | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One service of the catalogue (a row as served) and the citizen's preference."""

    row: dict[str, Any]
    preference: ServicePreference


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Entry]
    next: str | None


class CatalogueStore(Protocol):
    async def published(
        self, fiscal_code: str, filters: Filters, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Published services by id after `after`, each with the citizen's stored
        preference columns (`pref_*`, None when there is none)."""
        ...

    async def one(self, fiscal_code: str, service_id: str) -> dict[str, Any] | None: ...


def filters(topic_id: str | None, scope: str | None) -> Filters:
    """The query's filters, checked (`InvalidRequest` names the bad one)."""
    number = None
    if topic_id is not None:
        try:
            number = int(topic_id)
        except ValueError as exc:
            raise InvalidRequest("topic_id: expected one of IO's topic ids") from exc
        if topic(number) is None:
            raise InvalidRequest("topic_id: expected one of IO's topic ids")
    if scope is not None and scope not in SCOPES:
        raise InvalidRequest(f"scope: expected one of {', '.join(SCOPES)}")
    return Filters(number, scope)


def encode_cursor(service_id: str) -> str:
    return base64.urlsafe_b64encode(service_id.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> str:
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        return raw.decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("cursor: not a cursor this API issued") from exc


def _entry(profile: Profile, row: dict[str, Any]) -> Entry:
    stored = None
    if row["pref_inbox"] is not None:
        stored = ServicePreference(
            row["pref_inbox"], row["pref_push"], row["pref_email"], row["pref_read"]
        )
    return Entry(row, effective_preference(profile, stored, row["id"]))


async def page(
    store: CatalogueStore,
    profile: Profile,
    chosen: Filters,
    cursor: str | None,
    size: int,
) -> Page:
    after = decode_cursor(cursor) if cursor else None
    rows = await store.published(profile.fiscal_code, chosen, after, size + 1)
    items = [_entry(profile, r) for r in rows[:size]]
    more = len(rows) > size and items
    return Page(items, encode_cursor(items[-1].row["id"]) if more else None)


async def one(store: CatalogueStore, profile: Profile, service_id: str) -> Entry | None:
    row = await store.one(profile.fiscal_code, service_id)
    return None if row is None else _entry(profile, row)
