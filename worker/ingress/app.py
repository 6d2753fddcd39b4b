"""The ingress application factory.

The app gets a ready `Runtime` (pool and producer) and owns only what is its own:
the service directory and the task that keeps it fresh.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from opentelemetry.trace import SpanKind, Status, StatusCode

from worker import logs, metrics, tracing
from worker.bootstrap import Runtime, ingress_stores, timer_pulse
from worker.ingress import (
    catalogue,
    citizen,
    citizen_data,
    console,
    logos,
    manage_openapi,  # noqa: F401 - declares the back office's routes
    manage_routes,
    messages,
    openapi_served,
    profiles,
    rc_configurations,
    reports,
    subscriptions_feed,
    templates,
    third_party,
)
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES, TEMPLATES, UNKNOWN_TOKENS
from worker.ingress.limits import limits_ctx
from worker.ingress.problems import problem
from worker.ingress.url_text import url_refusal
from worker.periodic import running_every
from worker.services.directory import ServiceDirectory
from worker.services.templates import TemplateCache
from worker.services.token_cache import UnknownTokens

log = logs.get("postino.ingress")
#: One line per request: method, route template (never the path: it may hold a fiscal
#: code), status, duration, and the bound request, service and message ids.
access = logs.InfoLog("postino.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


REQUEST_ID = "X-Request-Id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A generated id: this process's random half, then a counter (32 hex digits, unique
# across processes without a system call per request; an id need not be secret).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(secrets.randbits(48))


def request_id(given: str | None) -> str:
    """The caller's `X-Request-Id` when it is a plain token, else a new one."""
    if given is not None and _REQUEST_ID.fullmatch(given):
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


@web.middleware
async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Everything every request goes through, in one middleware (each layer costs a
    coroutine and aiohttp's wrappers per request): the request id (bound to every log
    line of the request, echoed back), the URL text rules, errors as problems, the
    server span, metrics and the access log line."""
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    rid = request_id(request.headers.get(REQUEST_ID))
    scope = logs.open_scope(request_id=rid)
    try:
        if tracing.ENABLED:
            response = await _traced(request, handler, name)
        else:
            response = await _answer(request, handler, name)
        if not response.prepared:
            response.headers[REQUEST_ID] = rid
        _counted(request, name, response.status, started)
    except asyncio.CancelledError:
        # The handler was cancelled: the client left under a server that cancels
        # handlers on a lost connection, or the process is stopping. Still counted.
        _counted(request, name, CLIENT_CLOSED, started)
        raise
    finally:
        logs.close_scope(scope)
    return response


#: The status a request cancelled before its answer is counted with (nginx's "client
#: closed request"); it never goes on the wire.
CLIENT_CLOSED = 499


def _counted(request: web.Request, name: str, status: int, started: float) -> None:
    """The request in the metrics and, when info logging is on, the access line."""
    elapsed = time.perf_counter() - started
    counter, latency = _metric_children(name, request.method, status)
    counter.inc()
    latency.observe(elapsed)
    if access.enabled:
        access.info(
            "http_request",
            method=request.method,
            route=name,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


async def _answer(request: web.Request, handler: Handler, name: str) -> web.StreamResponse:
    """The handler's response, a refused URL's 400, or an error's problem."""
    try:
        return url_refusal(request) or await handler(request)
    except Exception as exc:
        return _error_response(exc, request, name)


async def _traced(request: web.Request, handler: Handler, name: str) -> web.StreamResponse:
    # A new trace at the edge: the caller's context is a link, never the parent.
    with tracing.span(
        f"{request.method} {name}",
        kind=SpanKind.SERVER,
        parent=tracing.NEW_TRACE,
        attributes={"http.request.method": request.method, "http.route": name},
        links=tracing.edge_links(request.headers),
    ) as current:
        response = await _answer(request, handler, name)
        if current is not None:
            current.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                current.set_status(Status(StatusCode.ERROR))
    return response


def _error_response(exc: Exception, request: web.Request, name: str) -> web.StreamResponse:
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return problem(413, "Payload too large", "the body exceeds the size limit")
    if isinstance(exc, web.HTTPException):
        # `Allow` is required on a 405 (RFC 9110 15.5.6); aiohttp's exception carries it
        kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        return problem(exc.status, exc.reason, exc.text or exc.reason, headers=kept or None)
    # Frames and a redacted first line only: request bodies carry personal data.
    log.error(
        "request_failed",
        route=name,
        method=request.method,
        error=logs.safe_error_text(exc),
        trace="".join(traceback.format_tb(exc.__traceback__, limit=8))[-2000:],
    )
    return problem(500, "Internal error", "unexpected error; it has been logged")


# Label children per (route, method, status): `labels()` costs a lock and a lookup.
_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _metric_children(route: str, method: str, status: int) -> tuple[Any, Any]:
    key = (route, method, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = (
            metrics.HTTP_REQUESTS.labels(route=route, method=method, status=status),
            metrics.HTTP_SECONDS.labels(route=route),
        )
        _CHILDREN[key] = children
    return children


async def refresh_directory(app: web.Application) -> None:
    since = app[DIRECTORY].mark()
    app[DIRECTORY].replace(await app[STORES].services.all(), since)


async def _directory_ctx(app: web.Application) -> AsyncIterator[None]:
    await refresh_directory(app)
    interval = app[RUNTIME].settings.limits.service_refresh_seconds
    # The ingress's timer: a hung refresh (or a blocked event loop) stalls the process.
    pulse = timer_pulse(app[RUNTIME], "service-directory", interval)
    async with running_every(
        interval, lambda: refresh_directory(app), name="service-refresh", pulse=pulse
    ):
        yield


def create_app(runtime: Runtime) -> web.Application:
    app = web.Application(
        client_max_size=runtime.settings.http.max_body_bytes,
        middlewares=[edge],
    )
    app[RUNTIME] = runtime
    app[STORES] = ingress_stores(runtime)
    app[DIRECTORY] = ServiceDirectory()
    app[TEMPLATES] = TemplateCache()
    http = runtime.settings.http
    app[UNKNOWN_TOKENS] = UnknownTokens(
        http.unknown_token_cache_size, http.unknown_token_cache_seconds
    )
    app.cleanup_ctx.append(_directory_ctx)
    app.cleanup_ctx.append(templates.templates_ctx)
    app.cleanup_ctx.append(limits_ctx)
    app.cleanup_ctx.append(third_party.senders_ctx)
    app.cleanup_ctx.append(subscriptions_feed.prune_ctx)
    app.add_routes(messages.routes)
    app.add_routes(profiles.routes)
    app.add_routes(manage_routes.routes)
    app.add_routes(openapi_served.routes)
    app.add_routes(citizen.routes)
    app.add_routes(third_party.routes)
    app.add_routes(subscriptions_feed.routes)
    app.add_routes(logos.routes)
    app.add_routes(rc_configurations.routes)
    app.add_routes(catalogue.routes)
    app.add_routes(templates.routes)
    app.add_routes(reports.routes)
    app.add_routes(citizen_data.routes)
    console.setup(app)
    return app


async def reload_services(app: web.Application) -> None:
    """Reload the service directory now (tests, and the admin API after a change)."""
    await refresh_directory(app)
