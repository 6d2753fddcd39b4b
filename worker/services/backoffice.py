"""The back office's verbs over services (docs/integrators/services.md), whoever calls them.

Both APIs call these: the platform's (admin token, section 6 payloads) and IO's CMS
(a body's manage key). Every verb runs on the service row locked for the change; it
writes, in the same transaction, the history entry that records it (with the actor)
and the notices it owes the body (`worker.services.notices`). A manage key acts only
on its own body's services: any other is `NotFound`, exactly like an unknown id.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.enums import ServiceState
from worker import logs
from worker.ids import encode_ulid
from worker.services import notices
from worker.services.backoffice_model import (
    Actor,
    HistoryEntry,
    ServiceRecord,
    Trail,
    missing_card_fields,
)
from worker.services.cms import service_snapshot
from worker.services.directory import hash_key
from worker.services.service_lifecycle import Action, Lifecycle, apply

log = logs.get("postino.backoffice")

Mutation = Callable[[ServiceRecord], dict[str, Any]]
TrailOf = Callable[[ServiceRecord, ServiceRecord], Trail]

#: Operational settings: they take effect at once and move nothing back to draft.
OPERATIONAL = frozenset(
    {
        "callback_url",
        "callback_events",
        "rate_per_second",
        "daily_quota",
        "authorized_cidrs",
        "remote_content_base_url",
        "remote_content_header_key_name",
        "remote_content_key",
        "auto_publish",
    }
)
#: Actions that need a complete service card (docs/integrators/services.md: review answers 422).
_REVIEWED = frozenset({Action.SUBMIT, Action.APPROVE})


class NotFound(Exception):
    """No such service for this caller (unknown, or another body's)."""


class IncompleteCard(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("the service card is incomplete; missing: " + "; ".join(missing))


class ServiceStore(Protocol):
    async def get(self, service_id: str) -> ServiceRecord | None: ...

    async def create(
        self, values: dict[str, Any], trail: Callable[[ServiceRecord], Trail]
    ) -> ServiceRecord: ...

    async def change(
        self, service_id: str, mutate: Mutation, trail: TrailOf, *, snapshot: bool = False
    ) -> ServiceRecord | None:
        """Apply `mutate(row) -> column changes` on the locked row, then write
        `trail(before, after)`; None when unknown. Exceptions roll back."""
        ...

    async def organization_email(self, fiscal_code: str) -> str | None: ...


def new_api_key() -> str:
    return secrets.token_hex(16)


def new_id() -> str:
    return encode_ulid((int(time.time() * 1000) << 80) | secrets.randbits(80))


def lifecycle_of(row: ServiceRecord) -> Lifecycle:
    return Lifecycle(ServiceState(row.state), row.published, row.publication is not None)


def entry(
    after: ServiceRecord, action: str, actor: Actor, at: datetime, *, publication: bool = False
) -> HistoryEntry:
    """The history entry of `action`, with the service as it is after it."""
    kind = "publication" if publication else "lifecycle"
    status = ("published" if after.published else "unpublished") if publication else after.state
    reason = after.reject_reason if after.state == ServiceState.REJECTED else None
    return HistoryEntry(
        after.id, at, action, actor, kind, status, after.version, service_snapshot(after), reason
    )


def _visible(row: ServiceRecord, actor: Actor) -> None:
    if not actor.sees(row):
        raise NotFound(row.id)


def transition(row: ServiceRecord, action: Action, actor: Actor) -> dict[str, Any]:
    """The column changes of a lifecycle `action` (InvalidTransition, IncompleteCard)."""
    _visible(row, actor)
    after = apply(lifecycle_of(row), action)
    if action in _REVIEWED:
        missing = missing_card_fields(row)
        if missing:
            raise IncompleteCard(missing)
    log.info(
        "service_transition",
        service_id=row.id,
        action=action.value,
        to=after.state,
        actor=actor.kind.value,
        actor_id=actor.id,
    )
    return {"state": after.state.value, "published": after.published}


@dataclass(frozen=True, slots=True)
class Changed:
    """A changed service and the secrets made by the change, shown in this answer only."""

    service: ServiceRecord
    shown: dict[str, str]


async def create(
    store: ServiceStore, actor: Actor, values: dict[str, Any], now: datetime
) -> Changed:
    """A new draft with two fresh keys (and a callback secret when it has a URL)."""
    primary, secondary = new_api_key(), new_api_key()
    callback_secret = secrets.token_urlsafe(32) if values.get("callback_url") else None
    values = values | {
        "id": new_id(),
        "state": ServiceState.DRAFT.value,
        "api_key_hash": hash_key(primary),
        "secondary_key_hash": hash_key(secondary),
        "callback_secret": callback_secret,
    }
    row = await store.create(values, lambda after: Trail([entry(after, "create", actor, now)]))
    log.info("service_created", service_id=row.id, actor=actor.kind.value, actor_id=actor.id)
    shown = {"api_key": primary, "primary_key": primary, "secondary_key": secondary}
    return Changed(row, shown | ({"callback_secret": callback_secret} if callback_secret else {}))


def edit_changes(row: ServiceRecord, changes: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Column changes of an edit: a content change starts (or goes on with) a draft
    version; operational ones apply as they are (docs/integrators/services.md)."""
    _visible(row, actor)
    content = {k: v for k, v in changes.items() if k not in OPERATIONAL and row.get(k) != v}
    edit: dict[str, Any] = {}
    if content:
        edit = transition(row, Action.EDIT, actor) | content
        if row.state == ServiceState.APPROVED:
            edit["version"] = row.version + 1
    return edit | {k: v for k, v in changes.items() if k in OPERATIONAL}


async def edit(
    store: ServiceStore, actor: Actor, service_id: str, changes: dict[str, Any], now: datetime
) -> Changed:
    """Edit; a new callback URL gets a new secret (shown once), clearing it clears it."""
    shown: dict[str, str] = {}
    action = ["update_settings"]

    def mutate(row: ServiceRecord) -> dict[str, Any]:
        columns = edit_changes(row, changes, actor)
        if "state" in columns:  # reviewed content changed: a draft version
            action[0] = "edit"
        url = changes.get("callback_url")
        if "callback_url" in changes and url != row.callback_url:
            secret = secrets.token_urlsafe(32) if url else None
            columns["callback_secret"] = secret
            if secret:
                shown["callback_secret"] = secret
        return columns

    def trail(before: ServiceRecord, after: ServiceRecord) -> Trail:
        if action[0] == "update_settings":
            log.info("service_settings_updated", service_id=after.id, actor=actor.kind.value)
        return Trail([entry(after, action[0], actor, now)])

    return Changed(await _change(store, service_id, mutate, trail), shown)


async def _change(
    store: ServiceStore,
    service_id: str,
    mutate: Mutation,
    trail: TrailOf,
    *,
    snapshot: bool = False,
) -> ServiceRecord:
    row = await store.change(service_id, mutate, trail, snapshot=snapshot)
    if row is None:
        raise NotFound(service_id)
    return row


async def _contacts(store: ServiceStore, service_id: str) -> notices.Contacts:
    """Where the notices of a service go (read before the change that owes them)."""
    row = await store.get(service_id)
    body = await store.organization_email(row.organization_fiscal_code) if row else None
    return notices.Contacts(row.email if row else None, body)


async def act(
    store: ServiceStore,
    actor: Actor,
    service_id: str,
    action: Action,
    now: datetime,
    *,
    reason: str | None = None,
    auto_publish: bool | None = None,
) -> ServiceRecord:
    """A lifecycle or publication action. Approving publishes too when the review
    asked for it (IO's `auto_publish`); submitting forgets an earlier rejection."""
    contacts = await _contacts(store, service_id)

    def mutate(row: ServiceRecord) -> dict[str, Any]:
        columns = transition(row, action, actor)
        if action is Action.SUBMIT:
            columns |= {"reject_reason": None, "auto_publish": bool(auto_publish)}
        elif action is Action.REJECT:
            columns["reject_reason"] = reason
        elif action is Action.APPROVE and row.auto_publish:
            columns["published"] = True
        return columns

    def trail(before: ServiceRecord, after: ServiceRecord) -> Trail:
        found = Trail()
        if before.state != after.state or action in (Action.SUBMIT, Action.APPROVE):
            found.history.append(entry(after, action.value, actor, now))
        if before.published != after.published or action in (Action.PUBLISH, Action.UNPUBLISH):
            publication = "publish" if after.published else "unpublish"
            found.history.append(entry(after, publication, actor, now, publication=True))
        found.notices += notices.for_action(action, before, after, contacts, now)
        return found

    return await _change(store, service_id, mutate, trail, snapshot=action is Action.APPROVE)


async def rotate_key(
    store: ServiceStore, actor: Actor, service_id: str, which: str, now: datetime
) -> tuple[ServiceRecord, str]:
    """Regenerate the primary or the secondary key; the other keeps working."""
    column = {"primary": "api_key_hash", "secondary": "secondary_key_hash"}[which]
    api_key = new_api_key()
    contacts = await _contacts(store, service_id)

    def mutate(row: ServiceRecord) -> dict[str, Any]:
        return transition(row, Action.ROTATE_KEY, actor) | {column: hash_key(api_key)}

    def trail(before: ServiceRecord, after: ServiceRecord) -> Trail:
        history = [entry(after, f"regenerate_{which}_key", actor, now)]
        return Trail(history, notices.key_regenerated(after, which, contacts, now))

    return await _change(store, service_id, mutate, trail), api_key


async def read(store: ServiceStore, actor: Actor, service_id: str) -> ServiceRecord:
    row = await store.get(service_id)
    if row is None or not actor.sees(row):
        raise NotFound(service_id)
    return row
