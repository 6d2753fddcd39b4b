"""The ingress application factory.

The app gets a ready `Runtime` (pool and producer) and owns only what is its own:
the service directory and the task that keeps it fresh.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from worker import logs, metrics
from worker.bootstrap import Runtime, ingress_stores, timer_pulse
from worker.ingress import admin, citizen, console, messages, openapi, profiles, third_party
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES
from worker.ingress.limits import limits_ctx
from worker.ingress.problems import problem
from worker.periodic import running_every
from worker.services.directory import ServiceDirectory

log = logs.get("postino.ingress")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    try:
        response = await handler(request)
    except web.HTTPRequestEntityTooLarge:
        response = problem(413, "Payload too large", "the body exceeds the size limit")
    except web.HTTPException as exc:
        # `Allow` is required on a 405 (RFC 9110 15.5.6); aiohttp's exception carries it
        kept = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        response = problem(exc.status, exc.reason, exc.text or exc.reason, headers=kept or None)
    except Exception as exc:
        # Frames and a redacted first line only: request bodies carry personal data.
        log.error(
            "request_failed",
            route=name,
            method=request.method,
            error=logs.safe_error_text(exc),
            trace="".join(traceback.format_tb(exc.__traceback__, limit=8))[-2000:],
        )
        response = problem(500, "Internal error", "unexpected error; it has been logged")
    counter, latency = _metric_children(name, request.method, response.status)
    counter.inc()
    latency.observe(time.perf_counter() - started)
    return response


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
    app[DIRECTORY].replace(await app[STORES].services.all())


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
        client_max_size=runtime.settings.http.max_body_bytes, middlewares=[errors_and_metrics]
    )
    app[RUNTIME] = runtime
    app[STORES] = ingress_stores(runtime)
    app[DIRECTORY] = ServiceDirectory()
    app.cleanup_ctx.append(_directory_ctx)
    app.cleanup_ctx.append(limits_ctx)
    app.cleanup_ctx.append(third_party.senders_ctx)
    app.add_routes(messages.routes)
    app.add_routes(profiles.routes)
    app.add_routes(admin.routes)
    app.add_routes(openapi.routes)
    app.add_routes(citizen.routes)
    app.add_routes(third_party.routes)
    console.setup(app)
    return app


async def reload_services(app: web.Application) -> None:
    """Reload the service directory now (tests, and the admin API after a change)."""
    await refresh_directory(app)
