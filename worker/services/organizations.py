"""Public bodies and their manage keys (docs/integrators/services.md): the platform registers a
body and issues it manage keys; a manage key acts for its body on IO's CMS API.

Keys are shown once and stored as SHA-256 hashes (like services' keys). A body holds
at most `MAX_LIVE_KEYS` live keys, so it can rotate: issue the next, switch, revoke
the old one. A revoked key stops working at once: every request looks its hash up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from worker import logs
from worker.services.backoffice import new_id
from worker.services.backoffice_model import Actor, ActorKind, ManageKey, Organization
from worker.services.directory import hash_key

log = logs.get("postino.organizations")

MAX_LIVE_KEYS = 2


class AlreadyExists(Exception):
    pass


class UnknownOrganization(Exception):
    pass


class TooManyKeys(Exception):
    def __init__(self) -> None:
        super().__init__(f"a body holds at most {MAX_LIVE_KEYS} live manage keys; revoke one first")


class OrganizationStore(Protocol):
    async def add(self, organization: Organization) -> bool:
        """False when a body with that fiscal code exists."""
        ...

    async def add_key(self, key: ManageKey, key_hash: bytes, max_live: int) -> bool | None:
        """None: no such body; False: it already holds `max_live` live keys."""
        ...

    async def revoke_key(self, fiscal_code: str, key_id: str, at: datetime) -> ManageKey | None: ...

    async def key_owner(self, key_hash: bytes) -> tuple[str, str] | None:
        """(key id, body fiscal code) of a live key with this hash."""
        ...

    async def get(self, fiscal_code: str) -> Organization | None: ...

    async def all(self) -> list[tuple[Organization, list[ManageKey]]]: ...


async def register(
    store: OrganizationStore, fiscal_code: str, name: str, email: str, now: datetime
) -> Organization:
    organization = Organization(fiscal_code, name, email, now)
    if not await store.add(organization):
        raise AlreadyExists(fiscal_code)
    log.info("organization_registered", organization=fiscal_code)
    return organization


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ManageKey
    #: The key itself: shown in this answer only.
    secret: str


async def issue_key(store: OrganizationStore, fiscal_code: str, now: datetime) -> IssuedKey:
    secret = secrets.token_hex(16)
    key = ManageKey(new_id(), fiscal_code, now)
    added = await store.add_key(key, hash_key(secret), MAX_LIVE_KEYS)
    if added is None:
        raise UnknownOrganization(fiscal_code)
    if not added:
        raise TooManyKeys()
    log.info("manage_key_issued", organization=fiscal_code, key_id=key.id)
    return IssuedKey(key, secret)


async def revoke_key(
    store: OrganizationStore, fiscal_code: str, key_id: str, now: datetime
) -> ManageKey:
    revoked = await store.revoke_key(fiscal_code, key_id, now)
    if revoked is None:
        raise UnknownOrganization(key_id)
    log.info("manage_key_revoked", organization=fiscal_code, key_id=key_id)
    return revoked


async def authenticate(store: OrganizationStore, given: str | None) -> Actor | None:
    """The body a manage key acts for, or None (missing, unknown or revoked)."""
    if not given:
        return None
    owner = await store.key_owner(hash_key(given))
    if owner is None:
        return None
    key_id, fiscal_code = owner
    return Actor(ActorKind.MANAGE_KEY, key_id, fiscal_code)
