"""Citizen app API (docs/integrators/citizen-api.md): sessions from the back-office, then the
citizen's own inbox, read/archive, profile and per-service preferences. `create_session` is the
platform's (admin token): `manage_routes` mounts it under `/api/v1/admin/profiles`.

A citizen is whoever holds an unexpired session token; every handler works on the
session's fiscal code only, so another citizen's message id answers 404, exactly
like an unknown one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from schemas.patterns import is_fiscal_code
from worker import logs
from worker.core.errors import RetryableError
from worker.ingress import citizen_openapi  # noqa: F401 - declares these routes
from worker.ingress.auth import CITIZEN_REALM, Handler, bearer, bearer_refusal
from worker.ingress.bodies import read_body
from worker.ingress.citizen_views import (
    MessageStatusBody,
    PreferencesBody,
    ProfilePatch,
    inbox_page,
    message_view,
    preference_view,
    profile_view,
    session_view,
    state_view,
)
from worker.ingress.keys import RUNTIME, STORES, UNKNOWN_TOKENS
from worker.ingress.problems import json_response, problem
from worker.services import citizen
from worker.services.model import Profile

log = logs.get("postino.citizen")
routes = web.RouteTableDef()
B = TypeVar("B")
CitizenHandler = Callable[[web.Request, str], Awaitable[web.Response]]


def _store(request: web.Request) -> citizen.CitizenStore:
    return request.app[STORES].citizens


def _bad_request(detail: str) -> web.Response:
    return problem(400, "Bad request", detail)


def _not_found(what: str) -> web.Response:
    return problem(404, "Not found", f"no such {what}")


def citizen_only(handler: CitizenHandler) -> Handler:
    """The handler, called with the session's fiscal code; 401 without a live session."""

    async def guarded(request: web.Request) -> web.Response:
        fiscal_code = await citizen.authenticate(
            _store(request), bearer(request), request.app[UNKNOWN_TOKENS]
        )
        if fiscal_code is None:
            detail = "missing, unknown or expired session token"
            return bearer_refusal(request, CITIZEN_REALM, detail)
        return await handler(request, fiscal_code)

    guarded.__name__ = handler.__name__
    return guarded


async def create_session(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["fiscal_code"]
    if not is_fiscal_code(fiscal_code):
        return _bad_request("fiscal_code: not a valid fiscal code")
    ttl = request.app[RUNTIME].settings.session_ttl_seconds
    session = await citizen.issue_session(_store(request), fiscal_code, ttl, datetime.now(UTC))
    if session is None:
        return _not_found("profile")
    log.info("citizen_session_issued", citizen=logs.mask(fiscal_code))
    return json_response(session_view(session.token, session.expires_at), status=201)


@routes.get("/api/v1/citizen/messages")
@citizen_only
async def inbox(request: web.Request, fiscal_code: str) -> web.Response:
    query = request.query
    archived = query.get("archived", "false").lower()
    if archived not in ("true", "false"):
        return _bad_request("archived: expected true or false")
    try:
        size = citizen.page_size(query.get("page_size"))
        page = await citizen.inbox_page(
            _store(request), fiscal_code, size, query.get("cursor"), archived == "true"
        )
    except citizen.InvalidRequest as exc:
        return _bad_request(str(exc))
    return json_response(inbox_page(page.items, page.next))


@routes.get("/api/v1/citizen/messages/{id}")
@citizen_only
async def one_message(request: web.Request, fiscal_code: str) -> web.Response:
    row = await _store(request).message(fiscal_code, request.match_info["id"])
    if row is None:
        return _not_found("message")
    return json_response(message_view(row))


@routes.put("/api/v1/citizen/messages/{id}/message-status")
@citizen_only
async def message_status(request: web.Request, fiscal_code: str) -> web.Response:
    body = await read_body(request, MessageStatusBody)
    if isinstance(body, web.Response):
        return body
    runtime, message_id = request.app[RUNTIME], request.match_info["id"]
    try:
        state = await citizen.change_message_status(
            _store(request),
            runtime.publisher,
            runtime.settings.kafka.topics,
            fiscal_code=fiscal_code,
            message_id=message_id,
            change=body.change(),
        )
    except citizen.InvalidRequest as exc:
        return _bad_request(str(exc))
    except RetryableError:
        log.warning("read_event_publish_failed", message_id=message_id)
        return problem(503, "Service unavailable", "the change is saved; retry to confirm it")
    if state is None:
        return _not_found("message")
    return json_response(state_view(state))


@routes.get("/api/v1/citizen/profile")
@citizen_only
async def get_profile(request: web.Request, fiscal_code: str) -> web.Response:
    profile = await _store(request).profile(fiscal_code)
    if profile is None:
        return _not_found("profile")
    return json_response(profile_view(profile))


@routes.patch("/api/v1/citizen/profile")
@citizen_only
async def patch_profile(request: web.Request, fiscal_code: str) -> web.Response:
    body = await read_body(request, ProfilePatch)
    if isinstance(body, web.Response):
        return body
    profile = await _store(request).update_profile(fiscal_code, body.changes())
    if profile is None:
        return _not_found("profile")
    return json_response(profile_view(profile))


async def _preference_target(
    request: web.Request, fiscal_code: str
) -> tuple[Profile, str] | web.Response:
    """(profile, service id) of a preferences route, or the answer to give."""
    store, service_id = _store(request), request.match_info["service_id"]
    profile = await store.profile(fiscal_code)
    if profile is None:
        return _not_found("profile")
    if not await store.service_exists(service_id):
        return _not_found("service")
    return profile, service_id


@routes.get("/api/v1/citizen/services/{service_id}/preferences")
@citizen_only
async def get_preferences(request: web.Request, fiscal_code: str) -> web.Response:
    target = await _preference_target(request, fiscal_code)
    if isinstance(target, web.Response):
        return target
    profile, service_id = target
    stored = await _store(request).preference(profile.fiscal_code, service_id)
    return json_response(
        preference_view(service_id, citizen.effective_preference(profile, stored, service_id))
    )


@routes.put("/api/v1/citizen/services/{service_id}/preferences")
@citizen_only
async def put_preferences(request: web.Request, fiscal_code: str) -> web.Response:
    target = await _preference_target(request, fiscal_code)
    if isinstance(target, web.Response):
        return target
    profile, service_id = target
    body = await read_body(request, PreferencesBody)
    if isinstance(body, web.Response):
        return body
    try:
        saved = await citizen.save_preference(
            _store(request), profile, service_id, body.preference()
        )
    except citizen.Conflict as exc:
        return problem(409, "Conflict", str(exc))
    return json_response(preference_view(service_id, saved))
