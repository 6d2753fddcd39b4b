"""Rate and daily quota at the ingress (docs/integrators/limits.md); see `worker.services.limits`.

The limiter lives in the app; a background task flushes its counts to `service_usage`
every `limits.quota_sync_seconds` and once more on shutdown.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web

from worker import logs
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES
from worker.ingress.network import networked_sender
from worker.ingress.problems import problem
from worker.periodic import running_every
from worker.services.directory import Service
from worker.services.limits import Limited, Limiter, LookupLimiter, day_of
from worker.services.quota_watch import QuotaWatch, queue_quota_notices

log = logs.get("postino.limits")
LIMITER = web.AppKey("limiter", Limiter)
LOOKUPS = web.AppKey("lookups", LookupLimiter)
QUOTA_WATCH = web.AppKey("quota_watch", QuotaWatch)


async def flush_now(app: web.Application) -> int:
    """Share this process's counts now (the background task does it periodically), then
    queue the quota notices the totals call for (80% and 100%, once a day each)."""
    now = datetime.now(UTC)
    flushed = await app[LIMITER].flush(app[STORES].usage, now)
    day = day_of(now)
    totals = app[LIMITER].totals(day)
    if totals:
        stores = app[STORES]
        await queue_quota_notices(
            app[QUOTA_WATCH],
            totals,
            _quota_of(app),
            (stores.backoffice, stores.notices),
            now=now,
            day=day,
        )
    return flushed


def _quota_of(app: web.Application) -> Callable[[str], int | None]:
    directory, default = app[DIRECTORY], app[RUNTIME].settings.limits.default_daily_quota

    def quota_of(service_id: str) -> int | None:
        service = directory.by_id(service_id)
        return None if service is None else service.daily_quota or default

    return quota_of


async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
    app[LIMITER] = Limiter()
    app[LOOKUPS] = LookupLimiter()
    app[QUOTA_WATCH] = QuotaWatch()
    interval = app[RUNTIME].settings.limits.quota_sync_seconds

    async with running_every(interval, lambda: flush_now(app), name="quota-flush"):
        yield
    try:
        await flush_now(app)
    except Exception as exc:
        log.warning("quota_flush_failed", error=type(exc).__name__, final=True)


def limit_refusal(request: web.Request, service: Service) -> web.Response | None:
    """None when the request is within limits (and counted); else the 429 to answer."""
    defaults = request.app[RUNTIME].settings.limits
    limited = request.app[LIMITER].admit(
        service.id,
        rate=service.rate_per_second or defaults.default_rate_per_second,
        quota=service.daily_quota or defaults.default_daily_quota,
        now=datetime.now(UTC),
        clock=time.monotonic(),
    )
    if limited is None:
        return None
    log.debug("request_limited", service_id=service.id, reason=limited.reason)
    return _too_many(limited)


def lookup_refusal(request: web.Request, service: Service) -> web.Response | None:
    """None when this key may look up once more now; else the 429 to answer. Profile
    and status lookups share one rate per key, so no key can enumerate citizens."""
    rate = request.app[RUNTIME].settings.limits.lookup_rate_per_second
    limited = request.app[LOOKUPS].admit(service.id, rate=rate, clock=time.monotonic())
    if limited is None:
        return None
    log.debug("lookup_limited", service_id=service.id)
    return _too_many(limited)


def lookup_sender(request: web.Request) -> Service | web.Response:
    """The sender of a lookup route (profile, message status), or the refusal: 401/403
    from `networked_sender`, then 429 past the key's lookup rate."""
    service = networked_sender(request)
    if isinstance(service, web.Response):
        return service
    return lookup_refusal(request, service) or service


def _too_many(limited: Limited) -> web.Response:
    return problem(
        429,
        "Too many requests",
        limited.reason,
        code=limited.code,
        headers={"Retry-After": str(limited.retry_after)},
    )
