"""Back-office (docs/integrators/services.md): services with their lifecycle, and profiles.

Every route needs the admin bearer token; a sender's API key never works here. API
keys are shown once and stored only as SHA-256 hashes. A change is visible on this
process at once (`ServiceDirectory.put`) and on every other ingress process within
`limits.service_refresh_seconds`.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec
from aiohttp import web

from schemas.enums import ServiceState
from schemas.patterns import is_fiscal_code
from worker import logs
from worker.adapters.services_repo import ServicesRepo
from worker.ids import encode_ulid
from worker.ingress import openapi
from worker.ingress.admin_views import (
    ProfileBody,
    ProfileView,
    RejectBody,
    ServiceCreate,
    ServicePage,
    ServicePatch,
    ServiceView,
    missing_card_fields,
    service_view,
)
from worker.ingress.auth import Handler, admin_only
from worker.ingress.bodies import read_body
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES
from worker.ingress.problems import json_response, problem
from worker.services.callback_url import DnsUnavailable, UnsafeCallbackUrl, check_callback_url
from worker.services.directory import hash_key
from worker.services.service_lifecycle import Action, InvalidTransition, Lifecycle, apply

log = logs.get("postino.admin")
routes = web.RouteTableDef()
#: Back-office text fields that may span lines (TAB, LF, CR allowed).
_MULTILINE = frozenset({"description", "reason"})
B = TypeVar("B")


def new_api_key() -> str:
    return secrets.token_hex(16)


def new_service_id() -> str:
    return encode_ulid((int(time.time() * 1000) << 80) | secrets.randbits(80))


def _repo(request: web.Request) -> ServicesRepo:
    return request.app[STORES].services


async def _body(request: web.Request, body_type: type[B]) -> B | web.Response:
    return await read_body(request, body_type, multiline=_MULTILINE, empty_as=b"{}")


async def _unsafe_url(request: web.Request, url: str | None, field: str) -> web.Response | None:
    """400 when `url` breaks the SSRF rules of docs/integrators/callbacks.md (callbacks, remote
    content)."""
    if url is None:
        return None
    callbacks = request.app[RUNTIME].settings.callbacks
    try:
        await check_callback_url(
            url, allow_loopback=callbacks.allow_loopback, allowed_ports=callbacks.allowed_ports
        )
    except (UnsafeCallbackUrl, DnsUnavailable) as exc:
        return problem(400, "Bad request", str(exc).replace("callback_url", field, 1))
    return None


async def _unsafe_urls(request: web.Request, changes: dict[str, Any]) -> web.Response | None:
    remote = changes.get("remote_content")
    return await _unsafe_url(request, changes.get("callback_url"), "callback_url") or (
        await _unsafe_url(request, remote["base_url"], "remote_content.base_url")
        if remote
        else None
    )


def _remote_columns(remote: dict[str, Any] | None) -> dict[str, Any]:
    """The `remote_content` body as columns; null clears the configuration."""
    remote = remote or {}
    return {
        "remote_content_base_url": remote.get("base_url"),
        "remote_content_header_key_name": remote.get("header_key_name"),
        "remote_content_key": remote.get("key"),
    }


async def _refresh_local(request: web.Request, service_id: str) -> None:
    entry = await _repo(request).directory_entry(service_id)
    if entry is not None:
        request.app[DIRECTORY].put(entry)


class IncompleteCard(Exception):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("the service card is incomplete; missing: " + "; ".join(missing))


async def _change(
    request: web.Request,
    mutate: Callable[[dict[str, Any]], dict[str, Any]],
    shown: Callable[[], dict[str, str | None]] = dict,
    *,
    snapshot: bool = False,
) -> web.Response:
    """Apply a change; `shown()` names the secrets to show once (known after `mutate`)."""
    service_id = request.match_info["id"]
    try:
        row = await _repo(request).change(service_id, mutate, snapshot=snapshot)
    except InvalidTransition as exc:
        return problem(409, "Conflict", str(exc))
    except IncompleteCard as exc:
        return problem(422, "Unprocessable service card", str(exc))
    if row is None:
        return problem(404, "Not found", "no such service")
    await _refresh_local(request, service_id)
    return json_response(service_view(row, **shown()))


def _lifecycle(row: dict[str, Any]) -> Lifecycle:
    copy = row.get("publication") is not None
    return Lifecycle(ServiceState(row["state"]), row["published"], copy)


def _transition(action: Action, **extra: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(row: dict[str, Any]) -> dict[str, Any]:
        after = apply(_lifecycle(row), action)
        if action in _REVIEWED:
            missing = missing_card_fields(row)
            if missing:
                raise IncompleteCard(missing)
        log.info("service_transition", service_id=row["id"], action=action.value, to=after.state)
        return {"state": after.state.value, "published": after.published, **extra}

    return mutate


#: Actions that need a complete service card (docs/integrators/services.md: review answers 422).
_REVIEWED = frozenset({Action.SUBMIT, Action.APPROVE})


@routes.post("/api/v1/manage/services")
@admin_only
async def create_service(request: web.Request) -> web.Response:
    body = await _body(request, ServiceCreate)
    if isinstance(body, web.Response):
        return body
    values: dict[str, Any] = msgspec.to_builtins(body)
    unsafe = await _unsafe_urls(request, values)
    if unsafe is not None:
        return unsafe
    primary, secondary = new_api_key(), new_api_key()
    callback_secret = secrets.token_urlsafe(32) if body.callback_url else None
    values |= _remote_columns(values.pop("remote_content"))
    values |= {
        "id": new_service_id(),
        "state": "draft",
        "api_key_hash": hash_key(primary),
        "secondary_key_hash": hash_key(secondary),
        "callback_secret": callback_secret,
    }
    row = await _repo(request).create(values)
    await _refresh_local(request, row["id"])
    log.info("service_created", service_id=row["id"])
    view = service_view(
        row,
        api_key=primary,
        primary_key=primary,
        secondary_key=secondary,
        callback_secret=callback_secret,
    )
    return json_response(view, status=201)


_STATES = frozenset(s.value for s in ServiceState)
_ORGANIZATION = re.compile(r"^[0-9]{11}$")


@routes.get("/api/v1/manage/services")
@admin_only
async def list_services(request: web.Request) -> web.Response:
    query = request.query
    state, org = query.get("state"), query.get("organization_fiscal_code")
    if state is not None and state not in _STATES:
        return problem(400, "Bad request", f"state: one of {', '.join(sorted(_STATES))}")
    if org is not None and not _ORGANIZATION.fullmatch(org):
        return problem(400, "Bad request", "organization_fiscal_code: 11 digits")
    size = query.get("page_size", "20")
    if not size.isdigit() or not 1 <= int(size) <= _MAX_PAGE:
        return problem(400, "Bad request", f"page_size: an integer from 1 to {_MAX_PAGE}")
    rows = await _repo(request).list(
        state=state,
        organization_fiscal_code=org,
        after=query.get("cursor") or None,
        limit=int(size) + 1,
    )
    page = rows[: int(size)]
    more = len(rows) > len(page)
    items = [service_view(r) for r in page]
    return json_response(ServicePage(items=items, next=page[-1]["id"] if more else None))


_MAX_PAGE = 100


class ServiceListQuery(msgspec.Struct):
    """The query of `GET /api/v1/manage/services` (for the OpenAPI document)."""

    state: ServiceState | None = None
    organization_fiscal_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{11}$")] | None = None
    cursor: Annotated[str, msgspec.Meta(description="`next` of the previous page")] | None = None
    page_size: Annotated[int, msgspec.Meta(ge=1, le=_MAX_PAGE)] = 20


@routes.get("/api/v1/manage/services/{id}")
@admin_only
async def read_service(request: web.Request) -> web.Response:
    row = await _repo(request).get(request.match_info["id"])
    if row is None:
        return problem(404, "Not found", "no such service")
    return json_response(service_view(row))


#: Operational settings: they take effect at once and move nothing back to draft.
OPERATIONAL = frozenset(
    {
        "callback_url",
        "callback_events",
        "rate_per_second",
        "daily_quota",
        "authorized_cidrs",
        "remote_content",
    }
)


def _edit(row: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Column changes of a PATCH: a content change starts (or goes on with) a draft
    version; operational ones apply as they are (docs/integrators/services.md)."""
    content = {k: v for k, v in changes.items() if k not in OPERATIONAL and row.get(k) != v}
    edit: dict[str, Any] = {}
    if content:
        lifecycle = _lifecycle(row)
        edit = _transition(Action.EDIT)(row) | content
        if lifecycle.state is ServiceState.APPROVED:
            edit["version"] = row["version"] + 1
    operational = {k: v for k, v in changes.items() if k in OPERATIONAL}
    if "remote_content" in operational:
        edit |= _remote_columns(operational.pop("remote_content"))
    return edit | operational


@routes.patch("/api/v1/manage/services/{id}")
@admin_only
async def edit_service(request: web.Request) -> web.Response:
    body = await _body(request, ServicePatch)
    if isinstance(body, web.Response):
        return body
    changes = msgspec.to_builtins(body.changes())
    unsafe = await _unsafe_urls(request, changes)
    if unsafe is not None:
        return unsafe
    url = changes.get("callback_url")
    secret: dict[str, str | None] = {}

    def mutate(row: dict[str, Any]) -> dict[str, Any]:
        edit = _edit(row, changes)
        if "callback_url" in changes and url != row["callback_url"]:
            # A new URL gets a new secret, shown once; clearing the URL clears it.
            edit["callback_secret"] = secret["value"] = secrets.token_urlsafe(32) if url else None
        return edit

    return await _change(request, mutate, lambda: {"callback_secret": secret.get("value")})


# (method, path suffix, lifecycle action, summary) of the body-less transitions.
_TRANSITIONS = (
    ("PUT", "review", Action.SUBMIT, "Submit for review (422 when the card is incomplete)"),
    ("POST", "approve", Action.APPROVE, "Approve: the version becomes the published copy"),
    ("POST", "abort", Action.ABORT, "Withdraw from review"),
    ("POST", "release", Action.PUBLISH, "Publish the approved copy"),
    ("DELETE", "release", Action.UNPUBLISH, "Unpublish"),
)


def _transition_handler(action: Action) -> Handler:
    # Submitting again for review forgets the reason of an earlier rejection.
    extra = {"reject_reason": None} if action is Action.SUBMIT else {}

    async def handler(request: web.Request) -> web.Response:
        mutate = _transition(action, **extra)
        return await _change(request, mutate, snapshot=action is Action.APPROVE)

    handler.__name__ = f"service_{action.value}"
    return admin_only(handler)


for _method, _suffix, _action, _ in _TRANSITIONS:
    routes.route(_method, f"/api/v1/manage/services/{{id}}/{_suffix}")(_transition_handler(_action))


@routes.post("/api/v1/manage/services/{id}/reject")
@admin_only
async def reject(request: web.Request) -> web.Response:
    body = await _body(request, RejectBody)
    if isinstance(body, web.Response):
        return body
    return await _change(request, _transition(Action.REJECT, reject_reason=body.reason))


@routes.delete("/api/v1/manage/services/{id}")
@admin_only
async def delete_service(request: web.Request) -> web.Response:
    return await _change(request, _transition(Action.DELETE))


def _rotate(column: str, *shown_as: str) -> Handler:
    """Regenerate one key; the other keeps working (zero-downtime rotation)."""

    async def handler(request: web.Request) -> web.Response:
        api_key = new_api_key()
        rotate = _transition(Action.ROTATE_KEY, **{column: hash_key(api_key)})
        return await _change(request, rotate, lambda: dict.fromkeys(shown_as, api_key))

    return admin_only(handler)


# `POST …/keys` is the legacy rotation (docs/integrators/services.md): it regenerates the primary
# key.
_KEYS = (
    ("keys", "api_key_hash", ("api_key", "primary_key"), "Regenerate the primary key"),
    ("keys/primary", "api_key_hash", ("api_key", "primary_key"), "Regenerate the primary key"),
    ("keys/secondary", "secondary_key_hash", ("secondary_key",), "Regenerate the secondary key"),
)
for _suffix, _column, _shown, _ in _KEYS:
    routes.post(f"/api/v1/manage/services/{{id}}/{_suffix}")(_rotate(_column, *_shown))


@routes.put("/api/v1/manage/profiles/{fiscal_code}")
@admin_only
async def put_profile(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["fiscal_code"]
    if not is_fiscal_code(fiscal_code):
        return problem(400, "Bad request", "fiscal_code: not a valid fiscal code")
    body = await _body(request, ProfileBody)
    if isinstance(body, web.Response):
        return body
    created = await request.app[STORES].profiles.upsert(body.profile(fiscal_code))
    view = ProfileView(fiscal_code=fiscal_code, **msgspec.structs.asdict(body))
    return json_response(view, status=201 if created else 200)


def _declare() -> None:
    base = "/api/v1/manage/services"
    one = f"{base}/{{id}}"
    view = {200: ServiceView}
    declare = openapi.declare
    declare(
        "POST",
        base,
        "Create a service (state draft; api_key shown once)",
        tag="back-office",
        security="admin",
        request=ServiceCreate,
        responses={201: ServiceView},
    )
    declare(
        "GET",
        base,
        "List services by id (filters: state, organization_fiscal_code; cursor paging)",
        tag="back-office",
        security="admin",
        responses={200: ServicePage},
        query=ServiceListQuery,
    )
    declare(
        "GET",
        one,
        "Read a service: the working version and the published copy",
        tag="back-office",
        security="admin",
        responses=view,
    )
    declare(
        "PATCH",
        one,
        "Edit a service: content edits make a draft version (the published copy stays"
        " live); operational settings apply at once",
        tag="back-office",
        security="admin",
        request=ServicePatch,
        responses=view,
        errors=(409,),
    )
    declare(
        "DELETE",
        one,
        "Delete a service",
        tag="back-office",
        security="admin",
        responses=view,
        errors=(409,),
    )
    keys = [("POST", suffix, summary) for suffix, _, _, summary in _KEYS]
    for method, suffix, summary in (*((m, x, s) for m, x, _, s in _TRANSITIONS), *keys):
        declare(
            method,
            f"{one}/{suffix}",
            summary,
            tag="back-office",
            security="admin",
            responses=view,
            errors=(409, 422) if suffix == "review" else (409,),
        )
    declare(
        "POST",
        f"{one}/reject",
        "Reject, with a reason",
        tag="back-office",
        security="admin",
        request=RejectBody,
        responses=view,
        errors=(409,),
    )
    declare(
        "PUT",
        "/api/v1/manage/profiles/{fiscal_code}",
        "Create or replace a profile",
        tag="back-office",
        security="admin",
        request=ProfileBody,
        responses={200: ProfileView, 201: ProfileView},
    )


_declare()
