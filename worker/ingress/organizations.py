"""The platform's own routes for public bodies (docs/integrators/services.md), admin token only:
organisations, their manage keys (a key is shown once, never listed), and a
service's history as the platform sees it (every body's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from schemas.messages import OrganizationFiscalCode
from worker.ingress.admin_views import Email, Name
from worker.ingress.backoffice import body_of, mapped, now
from worker.ingress.cms import history_page
from worker.ingress.keys import STORES
from worker.ingress.problems import json_response, problem
from worker.services import organizations
from worker.services.backoffice_model import ADMIN, ManageKey, Organization


class OrganizationBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    fiscal_code: OrganizationFiscalCode
    name: Name
    email: Annotated[Email, Meta(description="the body's contact for notices")]


class ManageKeyView(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A manage key as listed: its id and dates, never the key."""

    id: str
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedKeyView(msgspec.Struct, kw_only=True):
    """A new manage key: `key` is shown in this answer only (stored hashed)."""

    id: str
    key: str


class OrganizationView(msgspec.Struct, kw_only=True):
    fiscal_code: str
    name: str
    email: str
    created_at: datetime
    manage_keys: list[ManageKeyView] = msgspec.field(default_factory=list)


class OrganizationList(msgspec.Struct, kw_only=True):
    items: list[OrganizationView]


def key_view(key: ManageKey) -> ManageKeyView:
    return ManageKeyView(id=key.id, created_at=key.created_at, revoked_at=key.revoked_at)


def organization_view(org: Organization, keys: list[ManageKey]) -> OrganizationView:
    return OrganizationView(
        fiscal_code=org.fiscal_code,
        name=org.name,
        email=org.email,
        created_at=org.created_at,
        manage_keys=[key_view(k) for k in keys],
    )


def _store(request: web.Request) -> organizations.OrganizationStore:
    return request.app[STORES].organizations


async def create_organization(request: web.Request) -> web.Response:
    body = await body_of(request, OrganizationBody)
    if isinstance(body, web.Response):
        return body
    try:
        org = await organizations.register(
            _store(request), body.fiscal_code, body.name, body.email, now()
        )
    except organizations.AlreadyExists:
        return problem(409, "Conflict", "an organization with this fiscal code exists")
    return json_response(organization_view(org, []), status=201)


async def list_organizations(request: web.Request) -> web.Response:
    found = await _store(request).all()
    return json_response(OrganizationList(items=[organization_view(o, k) for o, k in found]))


async def issue_manage_key(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["organization_fiscal_code"]
    try:
        issued = await organizations.issue_key(_store(request), fiscal_code, now())
    except organizations.UnknownOrganization:
        return problem(404, "Not found", "no such organization")
    except organizations.TooManyKeys as exc:
        return problem(409, "Conflict", str(exc))
    return json_response(IssuedKeyView(id=issued.key.id, key=issued.secret), status=201)


async def revoke_manage_key(request: web.Request) -> web.Response:
    fiscal_code, key_id = request.match_info["organization_fiscal_code"], request.match_info["id"]
    try:
        key = await organizations.revoke_key(_store(request), fiscal_code, key_id, now())
    except organizations.UnknownOrganization:
        return problem(404, "Not found", "no such manage key for this organization")
    return json_response(key_view(key))


async def service_history(request: web.Request) -> web.Response:
    """A service's history, any body's (IO's `cmsGetServiceHistory` paging)."""
    return await mapped(request, history_page(request, ADMIN))
