"""The platform's back office over services (docs/integrators/services.md), with the payloads of
Postino's own back office.

Served under `/api/v1/admin/services…` with the admin token, and at section 6's old
paths `/api/v1/manage/services…` for the same token with a `Deprecation` header
(`manage_routes`). Each handler decodes, calls one `worker.services.backoffice` verb
as the platform admin, and maps the result. API keys are shown once and stored only
as SHA-256 hashes. A change is visible on this process at once
(`ServiceDirectory.put`) and on every other within `limits.service_refresh_seconds`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from aiohttp import web

from schemas.enums import ServiceState
from worker.ingress.admin_views import (
    RejectBody,
    ServiceCreate,
    ServicePage,
    ServicePatch,
    service_view,
)
from worker.ingress.auth import Handler
from worker.ingress.bodies import read_body
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES
from worker.ingress.problems import json_response, problem
from worker.services import backoffice
from worker.services.backoffice import IncompleteCard, NotFound, ServiceStore
from worker.services.backoffice_model import ADMIN, ServiceRecord
from worker.services.callback_url import DnsUnavailable, UnsafeCallbackUrl, check_callback_url
from worker.services.service_lifecycle import Action, InvalidTransition

#: Back-office text fields that may span lines (TAB, LF, CR allowed).
MULTILINE = frozenset({"description", "reason", "cta"})
MAX_PAGE = 100
B = TypeVar("B")
_STATES = frozenset(s.value for s in ServiceState)
_ORGANIZATION = re.compile(r"^[0-9]{11}$")


def store(request: web.Request) -> ServiceStore:
    return request.app[STORES].backoffice


def now() -> datetime:
    return datetime.now(UTC)


async def body_of(request: web.Request, body_type: type[B]) -> B | web.Response:
    return await read_body(request, body_type, multiline=MULTILINE, empty_as=b"{}")


async def unsafe_url(request: web.Request, url: str | None, field: str) -> web.Response | None:
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
    return await unsafe_url(request, changes.get("callback_url"), "callback_url") or (
        await unsafe_url(request, remote["base_url"], "remote_content.base_url") if remote else None
    )


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """A body's values as columns: `remote_content` (null clears it) becomes three."""
    if "remote_content" not in values:
        return values
    remote = values.pop("remote_content") or {}
    return values | {
        "remote_content_base_url": remote.get("base_url"),
        "remote_content_header_key_name": remote.get("header_key_name"),
        "remote_content_key": remote.get("key"),
    }


async def refresh_local(request: web.Request, service_id: str) -> None:
    entry = await request.app[STORES].services.directory_entry(service_id)
    if entry is not None:
        request.app[DIRECTORY].put(entry)


async def mapped(request: web.Request, call: Awaitable[web.Response]) -> web.Response:
    """The answer of a verb, its failures as problems (404, 409, 422)."""
    try:
        return await call
    except NotFound:
        return problem(404, "Not found", "no such service")
    except InvalidTransition as exc:
        return problem(409, "Conflict", str(exc))
    except IncompleteCard as exc:
        return problem(422, "Unprocessable service card", str(exc))


async def _answer(
    request: web.Request,
    row: ServiceRecord,
    shown: dict[str, str] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    await refresh_local(request, row.id)
    return json_response(service_view(row, **(shown or {})), status=status)


async def create_service(request: web.Request) -> web.Response:
    body = await body_of(request, ServiceCreate)
    if isinstance(body, web.Response):
        return body
    values: dict[str, Any] = msgspec.to_builtins(body)
    unsafe = await _unsafe_urls(request, values)
    if unsafe is not None:
        return unsafe
    made = await backoffice.create(store(request), ADMIN, _columns(values), now())
    return await _answer(request, made.service, made.shown, status=201)


async def list_services(request: web.Request) -> web.Response:
    query = request.query
    state, org = query.get("state"), query.get("organization_fiscal_code")
    if state is not None and state not in _STATES:
        return problem(400, "Bad request", f"state: one of {', '.join(sorted(_STATES))}")
    if org is not None and not _ORGANIZATION.fullmatch(org):
        return problem(400, "Bad request", "organization_fiscal_code: 11 digits")
    size = query.get("page_size", "20")
    if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE:
        return problem(400, "Bad request", f"page_size: an integer from 1 to {MAX_PAGE}")
    rows = await request.app[STORES].backoffice.listing(
        state=state,
        organization_fiscal_code=org,
        after=query.get("cursor") or None,
        limit=int(size) + 1,
    )
    page = rows[: int(size)]
    more = len(rows) > len(page)
    items = [service_view(r) for r in page]
    return json_response(ServicePage(items=items, next=page[-1].id if more else None))


async def read_service(request: web.Request) -> web.Response:
    async def call() -> web.Response:
        row = await backoffice.read(store(request), ADMIN, request.match_info["id"])
        return json_response(service_view(row))

    return await mapped(request, call())


async def edit_service(request: web.Request) -> web.Response:
    body = await body_of(request, ServicePatch)
    if isinstance(body, web.Response):
        return body
    changes = body.changes()
    unsafe = await _unsafe_urls(request, changes)
    if unsafe is not None:
        return unsafe

    async def call() -> web.Response:
        sid = request.match_info["id"]
        made = await backoffice.edit(store(request), ADMIN, sid, _columns(changes), now())
        return await _answer(request, made.service, made.shown)

    return await mapped(request, call())


def transition_handler(action: Action) -> Handler:
    """The handler of a body-less lifecycle or publication action."""

    async def handler(request: web.Request) -> web.Response:
        async def call() -> web.Response:
            sid = request.match_info["id"]
            return await _answer(
                request, await backoffice.act(store(request), ADMIN, sid, action, now())
            )

        return await mapped(request, call())

    handler.__name__ = f"service_{action.value}"
    return handler


async def reject(request: web.Request) -> web.Response:
    body = await body_of(request, RejectBody)
    if isinstance(body, web.Response):
        return body

    async def call() -> web.Response:
        sid, reason = request.match_info["id"], body.reason
        row = await backoffice.act(store(request), ADMIN, sid, Action.REJECT, now(), reason=reason)
        return await _answer(request, row)

    return await mapped(request, call())


def rotate_handler(which: str, *shown_as: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Regenerate one key; the other keeps working (zero-downtime rotation)."""

    async def handler(request: web.Request) -> web.Response:
        async def call() -> web.Response:
            sid = request.match_info["id"]
            row, key = await backoffice.rotate_key(store(request), ADMIN, sid, which, now())
            return await _answer(request, row, dict.fromkeys(shown_as, key))

        return await mapped(request, call())

    handler.__name__ = f"rotate_{which}_key"
    return handler
