"""IO's subscriptions feed, and the platform's switch for it.

`GET /api/v1/subscriptions-feed/{date}` answers IO's `SubscriptionsFeed` to a
service the platform allowed (403 otherwise), for a UTC day that is over (404 until
then). `POST`/`DELETE /api/v1/admin/services/{id}/subscriptions-feed` allow and stop
it. The ingress also prunes the change log past `POSTINO_SUBSCRIPTIONS_FEED_DAYS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import msgspec
from aiohttp import web

from worker import logs
from worker.bootstrap import timer_pulse
from worker.ingress import openapi
from worker.ingress.auth import admin_only
from worker.ingress.keys import RUNTIME, STORES
from worker.ingress.network import networked_sender
from worker.ingress.problems import json_response, problem
from worker.periodic import running_every
from worker.services import subscriptions

log = logs.get("postino.subscriptions_feed")
routes = web.RouteTableDef()
FEED = "/api/v1/subscriptions-feed/{date}"
SWITCH = "/api/v1/admin/services/{id}/subscriptions-feed"
_PRUNE_SECONDS = 3600.0


class SubscriptionsFeedView(msgspec.Struct):
    """IO's `SubscriptionsFeed`: lower-case hex SHA-256 of upper-case fiscal codes."""

    date_utc: str = msgspec.field(name="dateUTC")
    subscriptions: list[str] = msgspec.field(default_factory=list)
    unsubscriptions: list[str] = msgspec.field(default_factory=list)


class FeedSwitchView(msgspec.Struct):
    service_id: str
    subscriptions_feed: bool


def _day(text: str) -> date | None:
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@routes.get(FEED)
async def subscriptions_feed(request: web.Request) -> web.Response:
    service = networked_sender(request)
    if isinstance(service, web.Response):
        return service
    day = _day(request.match_info["date"])
    if day is None:
        return problem(400, "Bad request", "date: expected a day as YYYY-MM-DD")
    store = request.app[STORES].subscriptions
    try:
        found = await subscriptions.feed(store, service.id, day, datetime.now(UTC))
    except subscriptions.FeedNotAllowed:
        return problem(403, "Forbidden", "the platform has not allowed this service's feed")
    except subscriptions.FeedNotReady:
        detail = f"the feed of {day.isoformat()} is served once that UTC day is over"
        return problem(404, "Not found", detail)
    view = SubscriptionsFeedView(day.isoformat(), found.subscriptions, found.unsubscriptions)
    return json_response(view)


async def _switch(request: web.Request, allowed: bool) -> web.Response:
    service_id = request.match_info["id"]
    if not await request.app[STORES].subscriptions.set_allowed(service_id, allowed):
        return problem(404, "Not found", "no such service")
    event = "subscriptions_feed_allowed" if allowed else "subscriptions_feed_stopped"
    log.info(event, service_id=service_id, actor="admin")
    return json_response(FeedSwitchView(service_id, allowed))


@routes.post(SWITCH)
@admin_only
async def allow_feed(request: web.Request) -> web.Response:
    return await _switch(request, True)


@routes.delete(SWITCH)
@admin_only
async def stop_feed(request: web.Request) -> web.Response:
    return await _switch(request, False)


async def prune_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every hour, drop the change log of the days no feed serves any more."""
    store, days = (
        app[STORES].subscriptions,
        app[RUNTIME].settings.sender_api.subscriptions_feed_days,
    )

    async def prune() -> None:
        oldest = datetime.now(UTC).date() - timedelta(days=days)
        dropped = await store.prune(oldest)
        if dropped:
            log.info("subscriptions_feed_pruned", rows=dropped)

    pulse = timer_pulse(app[RUNTIME], "subscriptions-feed-prune", _PRUNE_SECONDS)
    async with running_every(_PRUNE_SECONDS, prune, name="feed-prune", pulse=pulse):
        yield


openapi.declare(
    "GET",
    FEED,
    "IO's subscriptions feed: hashed fiscal codes that subscribed to or unsubscribed from"
    " this service on a UTC day (403 unless the platform allowed it; 404 until the day"
    " is over)",
    tag="sender",
    security="sender",
    responses={200: SubscriptionsFeedView},
)
for _method, _summary in (
    ("POST", "Allow a service to read its subscriptions feed"),
    ("DELETE", "Stop a service's subscriptions feed"),
):
    openapi.declare(
        _method, SWITCH, _summary, tag="admin", security="admin", responses={200: FeedSwitchView}
    )
