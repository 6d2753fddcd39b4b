"""Back-office (IO-RULES 6): services with their lifecycle (IO-RULES 5), and profiles.

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
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from schemas.enums import ServiceState
from worker import logs
from worker.adapters.profiles_repo import upsert_profile
from worker.adapters.services_repo import ServicesRepo
from worker.ids import encode_ulid
from worker.ingress import openapi
from worker.ingress.admin_views import (
    ProfileBody,
    ProfileView,
    RejectBody,
    ServiceCreate,
    ServicePatch,
    ServiceView,
    service_view,
)
from worker.ingress.auth import Handler, admin_only
from worker.ingress.keys import DIRECTORY, RUNTIME
from worker.ingress.messages import field_error
from worker.ingress.problems import json_response, problem
from worker.services.callback_url import UnsafeCallbackUrl, check_callback_url
from worker.services.directory import hash_key
from worker.services.service_lifecycle import Action, InvalidTransition, Lifecycle, apply

log = logs.get("postino.admin")
routes = web.RouteTableDef()
B = TypeVar("B")
_FISCAL_CODE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)


def new_api_key() -> str:
    return secrets.token_hex(16)


def new_service_id() -> str:
    return encode_ulid((int(time.time() * 1000) << 80) | secrets.randbits(80))


def _repo(request: web.Request) -> ServicesRepo:
    return ServicesRepo(request.app[RUNTIME].pool)


async def _body(request: web.Request, body_type: type[B]) -> B | web.Response:
    raw = await request.read()
    try:
        return msgspec.json.decode(raw or b"{}", type=body_type)
    except msgspec.ValidationError as exc:
        return problem(400, "Bad request", field_error(exc))
    except msgspec.DecodeError:
        return problem(400, "Bad request", "body: not valid JSON; expected a JSON object")


async def _unsafe_callback(request: web.Request, url: str | None) -> web.Response | None:
    if url is None:
        return None
    allow = request.app[RUNTIME].settings.callbacks.allow_loopback
    try:
        await check_callback_url(url, allow_loopback=allow)
    except UnsafeCallbackUrl as exc:
        return problem(400, "Bad request", str(exc))
    return None


async def _refresh_local(request: web.Request, service_id: str) -> None:
    entry = await _repo(request).directory_entry(service_id)
    if entry is not None:
        request.app[DIRECTORY].put(entry)


async def _change(
    request: web.Request,
    mutate: Callable[[dict[str, Any]], dict[str, Any]],
    shown: Callable[[], dict[str, str | None]] = dict,
) -> web.Response:
    """Apply a change; `shown()` names the secrets to show once (known after `mutate`)."""
    service_id = request.match_info["id"]
    try:
        row = await _repo(request).change(service_id, mutate)
    except InvalidTransition as exc:
        return problem(409, "Conflict", str(exc))
    if row is None:
        return problem(404, "Not found", "no such service")
    await _refresh_local(request, service_id)
    return json_response(service_view(row, **shown()))


def _transition(action: Action, **extra: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def mutate(row: dict[str, Any]) -> dict[str, Any]:
        after = apply(Lifecycle(ServiceState(row["state"]), row["published"]), action)
        log.info("service_transition", service_id=row["id"], action=action.value, to=after.state)
        return {"state": after.state.value, "published": after.published, **extra}

    return mutate


@routes.post("/api/v1/manage/services")
@admin_only
async def create_service(request: web.Request) -> web.Response:
    body = await _body(request, ServiceCreate)
    if isinstance(body, web.Response):
        return body
    unsafe = await _unsafe_callback(request, body.callback_url)
    if unsafe is not None:
        return unsafe
    api_key = new_api_key()
    callback_secret = secrets.token_urlsafe(32) if body.callback_url else None
    values = msgspec.to_builtins(body) | {
        "id": new_service_id(),
        "state": "draft",
        "api_key_hash": hash_key(api_key),
        "callback_secret": callback_secret,
    }
    row = await _repo(request).create(values)
    await _refresh_local(request, row["id"])
    log.info("service_created", service_id=row["id"])
    view = service_view(row, api_key=api_key, callback_secret=callback_secret)
    return json_response(view, status=201)


@routes.get("/api/v1/manage/services/{id}")
@admin_only
async def read_service(request: web.Request) -> web.Response:
    row = await _repo(request).get(request.match_info["id"])
    if row is None:
        return problem(404, "Not found", "no such service")
    return json_response(service_view(row))


@routes.patch("/api/v1/manage/services/{id}")
@admin_only
async def edit_service(request: web.Request) -> web.Response:
    body = await _body(request, ServicePatch)
    if isinstance(body, web.Response):
        return body
    changes = body.changes()
    url = changes.get("callback_url")
    unsafe = await _unsafe_callback(request, url)
    if unsafe is not None:
        return unsafe
    secret: dict[str, str | None] = {}

    def mutate(row: dict[str, Any]) -> dict[str, Any]:
        edit = _transition(Action.EDIT)(row) | changes
        if "callback_url" in changes and url != row["callback_url"]:
            # A new URL gets a new secret, shown once; clearing the URL clears it.
            edit["callback_secret"] = secret["value"] = secrets.token_urlsafe(32) if url else None
        return edit

    return await _change(request, mutate, lambda: {"callback_secret": secret.get("value")})


# (method, path suffix, lifecycle action, summary) of the body-less transitions.
_TRANSITIONS = (
    ("PUT", "review", Action.SUBMIT, "Submit for review"),
    ("POST", "approve", Action.APPROVE, "Approve"),
    ("POST", "abort", Action.ABORT, "Withdraw from review"),
    ("POST", "release", Action.PUBLISH, "Publish (approved services only)"),
    ("DELETE", "release", Action.UNPUBLISH, "Unpublish"),
)


def _transition_handler(action: Action) -> Handler:
    # Submitting again for review forgets the reason of an earlier rejection.
    extra = {"reject_reason": None} if action is Action.SUBMIT else {}

    async def handler(request: web.Request) -> web.Response:
        return await _change(request, _transition(action, **extra))

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


@routes.post("/api/v1/manage/services/{id}/keys")
@admin_only
async def rotate_key(request: web.Request) -> web.Response:
    api_key = new_api_key()

    rotate = _transition(Action.ROTATE_KEY, api_key_hash=hash_key(api_key))
    return await _change(request, rotate, lambda: {"api_key": api_key})


@routes.put("/api/v1/manage/profiles/{fiscal_code}")
@admin_only
async def put_profile(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["fiscal_code"]
    if not _FISCAL_CODE.match(fiscal_code):
        return problem(400, "Bad request", "fiscal_code: not a valid fiscal code")
    body = await _body(request, ProfileBody)
    if isinstance(body, web.Response):
        return body
    created = await upsert_profile(request.app[RUNTIME].pool, body.profile(fiscal_code))
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
    declare("GET", one, "Read a service", tag="back-office", security="admin", responses=view)
    declare(
        "PATCH",
        one,
        "Edit a service (back to draft)",
        tag="back-office",
        security="admin",
        request=ServicePatch,
        responses=view,
    )
    declare("DELETE", one, "Delete a service", tag="back-office", security="admin", responses=view)
    rotate = ("POST", "keys", Action.ROTATE_KEY, "Rotate the API key (new key shown once)")
    for method, suffix, _, summary in (*_TRANSITIONS, rotate):
        declare(
            method, f"{one}/{suffix}", summary, tag="back-office", security="admin", responses=view
        )
    declare(
        "POST",
        f"{one}/reject",
        "Reject, with a reason",
        tag="back-office",
        security="admin",
        request=RejectBody,
        responses=view,
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
