"""The verbs of IO's CMS API for a body's manage key, over `worker.services.backoffice`.

A manage key acts for its body only (another body's service is `NotFound`); what it
creates belongs to its body whatever the payload says. It may do everything the CMS
API offers except approving or rejecting, which stay the platform's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.cms import (
    CmsPaginationResultSet,
    CmsServiceHistory,
    CmsServiceLifecycle,
    CmsServicePagination,
    CmsServicePayload,
    CmsServicePublication,
)
from schemas.enums import ServiceState
from worker import logs
from worker.services import backoffice
from worker.services.backoffice import NotFound, ServiceStore
from worker.services.backoffice_model import Actor, ServiceRecord, StoredHistoryEntry, Trail
from worker.services.cms import history_item, lifecycle_view, payload_columns, publication_view
from worker.services.logos import DEFAULT_MAX_BYTES, SERVICE, LogoStore, decode_logo
from worker.services.organizations import OrganizationStore
from worker.services.service_lifecycle import Action, InvalidTransition

log = logs.get("postino.cms")


class CmsStore(ServiceStore, Protocol):
    async def page(
        self, organization_fiscal_code: str, offset: int, limit: int
    ) -> tuple[list[ServiceRecord], int]: ...

    async def history(
        self, service_id: str, *, after: int | None, ascending: bool, limit: int
    ) -> list[StoredHistoryEntry]: ...


@dataclass(frozen=True, slots=True)
class Cms:
    services: CmsStore
    organizations: OrganizationStore
    logos: LogoStore


async def _organization_name(cms: Cms, actor: Actor) -> str:
    fiscal_code = actor.organization_fiscal_code or ""
    organization = await cms.organizations.get(fiscal_code)
    if organization is None:  # a key outlives no body: revoke-before-delete is the rule
        raise NotFound(fiscal_code)
    return organization.name


async def create(
    cms: Cms, actor: Actor, payload: CmsServicePayload, now: datetime
) -> CmsServiceLifecycle:
    """A new draft of the key's body; its two keys are in this answer only."""
    columns = payload_columns(payload, await _organization_name(cms, actor))
    columns["organization_fiscal_code"] = actor.organization_fiscal_code
    made = await backoffice.create(cms.services, actor, columns, now)
    keys = {k: made.shown[k] for k in ("primary_key", "secondary_key")}
    return lifecycle_view(made.service, **keys)


async def update(
    cms: Cms, actor: Actor, service_id: str, payload: CmsServicePayload, now: datetime
) -> CmsServiceLifecycle:
    """Replace the content: a change makes a draft version (docs/integrators/services.md)."""
    columns = payload_columns(payload, await _organization_name(cms, actor))
    made = await backoffice.edit(cms.services, actor, service_id, columns, now)
    return lifecycle_view(made.service)


async def page(cms: Cms, actor: Actor, offset: int, limit: int) -> CmsServicePagination:
    rows, count = await cms.services.page(actor.organization_fiscal_code or "", offset, limit)
    result = CmsPaginationResultSet(offset=offset, limit=limit, count=count)
    return CmsServicePagination(value=[lifecycle_view(r) for r in rows], pagination=result)


async def read(cms: Cms, actor: Actor, service_id: str) -> CmsServiceLifecycle:
    return lifecycle_view(await backoffice.read(cms.services, actor, service_id))


async def published(cms: Cms, actor: Actor, service_id: str) -> CmsServicePublication:
    view = publication_view(await backoffice.read(cms.services, actor, service_id))
    if view is None:
        raise NotFound(service_id)
    return view


async def unpublish(cms: Cms, actor: Actor, service_id: str, now: datetime) -> None:
    """IO's unpublish: 404 for a service never approved (it has no publication)."""
    await published(cms, actor, service_id)
    await backoffice.act(cms.services, actor, service_id, Action.UNPUBLISH, now)


async def history(
    cms: Cms,
    actor: Actor,
    service_id: str,
    *,
    ascending: bool,
    limit: int,
    token: int | None,
) -> CmsServiceHistory:
    """One page of the history; `continuationToken` is the last entry's id when more."""
    await backoffice.read(cms.services, actor, service_id)
    entries = await cms.services.history(
        service_id, after=token, ascending=ascending, limit=limit + 1
    )
    shown = entries[:limit]
    more = len(entries) > limit
    return CmsServiceHistory(
        items=[history_item(e) for e in shown],
        continuationToken=str(shown[-1].id) if more else None,
    )


async def upload_logo(
    cms: Cms,
    actor: Actor,
    service_id: str,
    text: str,
    now: datetime,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> None:
    """Keep a validated PNG (`InvalidLogo` otherwise; the rules of
    `worker.services.logos`, shared with IO's sender routes), and say so in the history."""
    png = decode_logo(text, max_bytes)

    def mutate(row: ServiceRecord) -> dict[str, Any]:
        if not actor.sees(row):
            raise NotFound(service_id)
        if row.state == ServiceState.DELETED:
            raise InvalidTransition(Action.EDIT, ServiceState.DELETED)
        return {}

    def trail(before: ServiceRecord, after: ServiceRecord) -> Trail:
        return Trail([backoffice.entry(after, "upload_logo", actor, now)])

    if await cms.services.change(service_id, mutate, trail) is None:
        raise NotFound(service_id)
    await cms.logos.save(SERVICE, service_id, png)
    log.info("service_logo_uploaded", service_id=service_id, bytes=len(png.png))
