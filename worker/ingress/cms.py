"""IO's CMS API (docs/integrators/services.md) for a body's manage key, at IO's paths under
`/api/v1`.

Each handler decodes, calls one `worker.services.cms_api` verb and maps the result:
IO's payloads and statuses (201 created, 204 for review, release, unpublish, delete
and logo), problems for errors; another body's service answers 404 like an unknown
one. `manage_routes` mounts these beside section 6's old routes at the same paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from schemas.cms import (
    CmsReviewRequest,
    CmsServicePayload,
    CmsServiceTopicList,
    CmsSubscriptionKeys,
    Logo,
)
from schemas.service_topics import SERVICE_TOPICS
from worker import logs
from worker.ingress.auth import SENDER_HEADER, is_admin
from worker.ingress.backoffice import body_of, mapped, now, refresh_local
from worker.ingress.keys import DIRECTORY, RUNTIME, STORES
from worker.ingress.manage_queries import CmsHistoryQuery, CmsPageQuery, parse_query
from worker.ingress.problems import json_response, problem
from worker.services import backoffice, cms_api, organizations
from worker.services.backoffice_model import Actor
from worker.services.cms import UnknownTopic
from worker.services.logos import InvalidLogo
from worker.services.service_lifecycle import Action

log = logs.get("postino.cms")
CmsHandler = Callable[[web.Request, Actor], Awaitable[web.Response]]
_KEY_TYPES = ("primary", "secondary")


def _cms(request: web.Request) -> cms_api.Cms:
    stores = request.app[STORES]
    return cms_api.Cms(stores.backoffice, stores.organizations, stores.logos)


def manage_key_only(handler: CmsHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The handler, called with the manage key's actor; 401 without a live manage key."""

    async def guarded(request: web.Request) -> web.Response:
        given = request.headers.get(SENDER_HEADER)
        actor = await organizations.authenticate(request.app[STORES].organizations, given)
        if actor is None:
            return problem(401, "Unauthorized", f"missing or unknown {SENDER_HEADER} (manage key)")
        logs.bind(organization=actor.organization_fiscal_code, manage_key_id=actor.id)
        return await mapped(request, handler(request, actor))

    guarded.__name__ = handler.__name__
    return guarded


def _no_content() -> web.Response:
    return web.Response(status=204)


async def _with_payload(
    request: web.Request, call: Callable[[CmsServicePayload], Awaitable[Any]], status: int
) -> web.Response:
    payload = await body_of(request, CmsServicePayload)
    if isinstance(payload, web.Response):
        return payload
    try:
        view = await call(payload)
    except UnknownTopic as exc:
        return problem(400, "Bad request", str(exc))
    await refresh_local(request, view.id)
    return json_response(view, status=status)


@manage_key_only
async def cms_create_service(request: web.Request, actor: Actor) -> web.Response:
    cms = _cms(request)
    return await _with_payload(request, lambda p: cms_api.create(cms, actor, p, now()), 201)


@manage_key_only
async def cms_get_services(request: web.Request, actor: Actor) -> web.Response:
    query = parse_query(request, CmsPageQuery)
    if isinstance(query, web.Response):
        return query
    return json_response(await cms_api.page(_cms(request), actor, query.offset, query.limit))


@manage_key_only
async def cms_get_service(request: web.Request, actor: Actor) -> web.Response:
    return json_response(await cms_api.read(_cms(request), actor, request.match_info["id"]))


@manage_key_only
async def cms_update_service(request: web.Request, actor: Actor) -> web.Response:
    cms, sid = _cms(request), request.match_info["id"]
    return await _with_payload(request, lambda p: cms_api.update(cms, actor, sid, p, now()), 200)


def _action(action: Action) -> CmsHandler:
    async def handler(request: web.Request, actor: Actor) -> web.Response:
        sid = request.match_info["id"]
        await backoffice.act(_cms(request).services, actor, sid, action, now())
        await refresh_local(request, sid)
        return _no_content()

    handler.__name__ = f"cms_{action.value}"
    return handler


cms_delete_service = manage_key_only(_action(Action.DELETE))
cms_release_service = manage_key_only(_action(Action.PUBLISH))


@manage_key_only
async def cms_review_service(request: web.Request, actor: Actor) -> web.Response:
    body = await body_of(request, CmsReviewRequest)
    if isinstance(body, web.Response):
        return body
    sid, auto = request.match_info["id"], body.auto_publish
    await backoffice.act(
        _cms(request).services, actor, sid, Action.SUBMIT, now(), auto_publish=auto
    )
    return _no_content()


@manage_key_only
async def cms_get_published_service(request: web.Request, actor: Actor) -> web.Response:
    return json_response(await cms_api.published(_cms(request), actor, request.match_info["id"]))


@manage_key_only
async def cms_unpublish_service(request: web.Request, actor: Actor) -> web.Response:
    sid = request.match_info["id"]
    await cms_api.unpublish(_cms(request), actor, sid, now())
    await refresh_local(request, sid)
    return _no_content()


@manage_key_only
async def cms_update_service_logo(request: web.Request, actor: Actor) -> web.Response:
    body = await body_of(request, Logo)
    if isinstance(body, web.Response):
        return body
    try:
        limit = request.app[RUNTIME].settings.sender_api.logo_max_bytes
        sid = request.match_info["id"]
        await cms_api.upload_logo(_cms(request), actor, sid, body.logo, now(), max_bytes=limit)
    except InvalidLogo as exc:
        return problem(400, "Bad request", str(exc))
    return _no_content()


async def history_page(request: web.Request, actor: Actor) -> web.Response:
    """A page of a service's history as IO's `cmsGetServiceHistory` gives it."""
    query = parse_query(request, CmsHistoryQuery)
    if isinstance(query, web.Response):
        return query
    token = query.continuationToken
    page = await cms_api.history(
        _cms(request),
        actor,
        request.match_info["id"],
        ascending=query.order == "ASC",
        limit=query.limit,
        token=int(token) if token else None,
    )
    return json_response(page)


cms_get_service_history = manage_key_only(history_page)


@manage_key_only
async def cms_get_service_keys(request: web.Request, actor: Actor) -> web.Response:
    await backoffice.read(_cms(request).services, actor, request.match_info["id"])
    return problem(
        403,
        "Forbidden",
        "Postino stores service keys hashed and shows each once, when it is made: take"
        " them from the creation answer, or regenerate one with PUT …/keys/{primary|secondary}",
    )


@manage_key_only
async def cms_regenerate_service_key(request: web.Request, actor: Actor) -> web.Response:
    which, sid = request.match_info["keyType"], request.match_info["id"]
    if which not in _KEY_TYPES:
        return problem(400, "Bad request", "keyType: primary or secondary")
    _, key = await backoffice.rotate_key(_cms(request).services, actor, sid, which, now())
    await refresh_local(request, sid)
    keys = {"primary_key": "", "secondary_key": ""} | {f"{which}_key": key}
    return json_response(CmsSubscriptionKeys(**keys))


_TOPICS = CmsServiceTopicList(topics=list(SERVICE_TOPICS))


async def get_service_topics(request: web.Request) -> web.Response:
    """Any service key, manage key or the admin token may read the topics."""
    given = request.headers.get(SENDER_HEADER)
    known = is_admin(request) or request.app[DIRECTORY].authenticate(given) is not None
    if not known:
        stores = request.app[STORES]
        known = await organizations.authenticate(stores.organizations, given) is not None
    if not known:
        return problem(401, "Unauthorized", f"missing or unknown {SENDER_HEADER}")
    return json_response(_TOPICS)
