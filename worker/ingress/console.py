"""The operator console: `/status` (a page with no data) and its admin-only JSON.

`GET /status` and its script and style are static files served by Postino itself
(no CDN, no external font: the page works on an air-gapped network); the page asks
for the admin token and calls, with `Authorization: Bearer <token>`:
- `/api/v1/status`: lag per consumer group and DLQ counts (cached);
- `/api/v1/status/flow`: per-second flow of the last 15 minutes, lag, latency (cached);
- `/api/v1/status/dlq`: the newest dead letters per DLQ and the replay command (cached);
- `/api/v1/status/messages/{id}`: one message's timeline (a few indexed lookups);
- `/api/v1/status/messages?service_id=&since=&until=`: a service's messages in a range;
- `/api/v1/admin/organizations` and `/api/v1/admin/services/{id}/history`: the public
  bodies with their manage keys (never a key), and who did what to a service.
Without the token every one of them answers 401. The cached ones cost a request a
dictionary lookup: one refresher per process computes them (see `worker.console`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Annotated, Any

import msgspec
from aiohttp import web

from worker.adapters import console_repo
from worker.console import timeline
from worker.console.snapshot import Console, Encoded
from worker.ingress import openapi
from worker.ingress.auth import admin_only
from worker.ingress.keys import RUNTIME
from worker.ingress.problems import json_response, problem

CONSOLE = web.AppKey("console", Console)
STARTED = web.AppKey("console_started", float)
routes = web.RouteTableDef()

_STATIC = {
    "console.js": "text/javascript",
    "bodies.js": "text/javascript",
    "console.css": "text/css",
}
#: Everything the page loads comes from here: a stray external URL is blocked.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_MAX_RANGE = timedelta(days=31)


class OverviewView(msgspec.Struct):
    generated_at: str
    uptime_seconds: float
    topic_prefix: str
    consumer_lag: dict[str, dict[str, int]]
    dlq_records: dict[str, int]
    errors: dict[str, str]


class StepView(msgspec.Struct, kw_only=True):
    kind: str
    at: str | None
    title: str
    channel: str | None = None
    attempt: int | None = None
    outcome: str | None = None
    tier: str | None = None
    status_code: int | None = None
    code: str | None = None
    origin: str | None = None
    reason: str | None = None
    trace_id: str | None = None


class TemplateUsedView(msgspec.Struct):
    id: str
    version: int | None


class TimelineView(msgspec.Struct):
    id: str
    service_id: str | None
    status: str
    feature_level_type: str | None
    trace_ids: list[str]
    steps: list[StepView]
    #: The template the message's text was written from, if it was.
    template: TemplateUsedView | None = None


class ServiceMessageView(msgspec.Struct):
    id: str
    created_at: str
    status: str


class ServiceMessagesView(msgspec.Struct):
    service_id: str
    since: str
    until: str
    messages: list[ServiceMessageView]


class ServiceMessagesQuery(msgspec.Struct):
    """The query of `/api/v1/status/messages` (for the OpenAPI document)."""

    service_id: Annotated[str, msgspec.Meta(min_length=1)]
    since: datetime | None = None
    until: datetime | None = None


def _declare() -> None:
    cached = (
        ("/api/v1/status", "Lag per consumer group and DLQ counts (cached)", OverviewView),
        ("/api/v1/status/flow", "Per-second flow, lag and latency, last 15 minutes", Any),
        ("/api/v1/status/dlq", "Newest dead letters per DLQ, with the replay command", Any),
    )
    for path, summary, body in cached:
        openapi.declare(
            "GET", path, summary, tag="operations", security="admin", responses={200: body}
        )
    openapi.declare(
        "GET",
        "/api/v1/status/messages/{id}",
        "Where is my message? Its timeline",
        tag="operations",
        security="admin",
        responses={200: TimelineView, 404: None},
    )
    openapi.declare(
        "GET",
        "/api/v1/status/messages",
        "A service's messages in a time range (at most 31 days, 100 messages)",
        tag="operations",
        security="admin",
        query=ServiceMessagesQuery,
        responses={200: ServiceMessagesView, 400: None},
    )
    for path, summary in (
        ("/status", "The operator console (HTML, no data)"),
        ("/status/{name}", "The console's script and style"),
    ):
        openapi.declare(
            "GET", path, summary, tag="operations", responses={200: None}, content_type="text/html"
        )


_declare()


def _asset(name: str) -> bytes:
    return resources.files("worker.ingress").joinpath("console_static", name).read_bytes()


async def _console_ctx(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    console = Console(runtime.pool, runtime.bootstrap, runtime.settings)
    app[CONSOLE] = console
    console.start()
    yield
    await console.stop()


def setup(app: web.Application) -> None:
    app[STARTED] = time.time()
    app.cleanup_ctx.append(_console_ctx)
    app.add_routes(routes)
    page = _asset("index.html")
    assets = {name: _asset(name) for name in _STATIC}

    async def index(_: web.Request) -> web.Response:
        return _static(page, "text/html")

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in assets:
            raise web.HTTPNotFound()
        return _static(assets[name], _STATIC[name])

    app.router.add_get("/status", index)
    app.router.add_get("/status/{name}", asset)


def _static(body: bytes, content_type: str) -> web.Response:
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8",
        headers={
            "Content-Security-Policy": _CSP,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _cached(request: web.Request, encoded: Encoded) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = encoded.gzipped
    else:
        body = encoded.body
    return web.Response(body=body, content_type="application/json", headers=headers)


@routes.get("/api/v1/status")
@admin_only
async def overview(request: web.Request) -> web.Response:
    return _cached(request, await request.app[CONSOLE].get("overview"))


@routes.get("/api/v1/status/flow")
@admin_only
async def flow(request: web.Request) -> web.Response:
    return _cached(request, await request.app[CONSOLE].get("flow"))


@routes.get("/api/v1/status/dlq")
@admin_only
async def dlq(request: web.Request) -> web.Response:
    return _cached(request, await request.app[CONSOLE].get("dlq"))


@routes.get("/api/v1/status/messages/{id}")
@admin_only
async def message_timeline(request: web.Request) -> web.Response:
    message_id = request.match_info["id"]
    if not 1 <= len(message_id) <= 64 or not message_id.isascii():
        return problem(400, "Bad request", "id: not a message id")
    story = await console_repo.message_story(request.app[RUNTIME].pool, message_id)
    dead = request.app[CONSOLE].watch.dead_letters_of(message_id)
    found = timeline.build(message_id, story, dead)
    if found is None:
        return problem(404, "Not found", f"no message with id {message_id} is known")
    return json_response(found, headers={"Cache-Control": "no-store"})


def _when(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{name}: expected an ISO 8601 date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@routes.get("/api/v1/status/messages")
@admin_only
async def service_messages(request: web.Request) -> web.Response:
    service_id = request.query.get("service_id", "")
    if not service_id:
        return problem(400, "Bad request", "service_id: required")
    now = datetime.now(UTC)
    until = _when(request, "until", now)
    since = _when(request, "since", until - timedelta(hours=1))
    if not timedelta(0) < until - since <= _MAX_RANGE:
        return problem(
            400, "Bad request", "since/until: a range of at most 31 days, since before until"
        )
    rows = await console_repo.messages_of_service(
        request.app[RUNTIME].pool, service_id, since, until, 100
    )
    return json_response(
        {"service_id": service_id, "since": since, "until": until, "messages": rows},
        headers={"Cache-Control": "no-store"},
    )
