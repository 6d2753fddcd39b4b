"""Where the back office's routes are mounted (docs/integrators/services.md), and who answers each.

- `/api/v1/admin/…`: the platform's own routes, admin token: section 6's service
  operations and payloads, approve and reject, organisations and manage keys,
  profiles and sessions, a service's history.
- `/api/v1/manage/services…`: IO's CMS API for a body's manage key. Section 6's old
  routes live at the same paths: a request carrying `Ocp-Apim-Subscription-Key` is
  IO's CMS call; one with the admin bearer token gets the old operation and payload
  with a `Deprecation` header and a `Link` to its successor under `/api/v1/admin`.
  The old `/api/v1/manage/profiles…` routes are answered the same deprecated way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from worker import logs
from worker.ingress import backoffice as legacy
from worker.ingress import cms, organizations
from worker.ingress.admin_profiles import put_profile
from worker.ingress.auth import SENDER_HEADER, admin_only
from worker.ingress.citizen import create_session
from worker.ingress.problems import problem
from worker.services.backoffice_model import Actor
from worker.services.service_lifecycle import Action

Handler = Callable[[web.Request], Awaitable[web.Response]]
ADMIN_BASE, OLD_BASE = "/api/v1/admin", "/api/v1/manage"
#: RFC 9745: deprecated since this release (2026-12-06 UTC); removed in the next.
DEPRECATED_SINCE = "@1796515200"
log = logs.get("postino.admin")
routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    #: The path after `…/services` (or the full path after the base, for others).
    suffix: str
    handler: Handler


#: Section 6's service operations (payloads of `admin_views`), admin token.
LEGACY = (
    Route("POST", "", legacy.create_service),
    Route("GET", "", legacy.list_services),
    Route("GET", "/{id}", legacy.read_service),
    Route("PATCH", "/{id}", legacy.edit_service),
    Route("DELETE", "/{id}", legacy.transition_handler(Action.DELETE)),
    Route("PUT", "/{id}/review", legacy.transition_handler(Action.SUBMIT)),
    Route("POST", "/{id}/approve", legacy.transition_handler(Action.APPROVE)),
    Route("POST", "/{id}/abort", legacy.transition_handler(Action.ABORT)),
    Route("POST", "/{id}/reject", legacy.reject),
    Route("POST", "/{id}/release", legacy.transition_handler(Action.PUBLISH)),
    Route("DELETE", "/{id}/release", legacy.transition_handler(Action.UNPUBLISH)),
    Route("POST", "/{id}/keys", legacy.rotate_handler("primary", "api_key", "primary_key")),
    Route("POST", "/{id}/keys/primary", legacy.rotate_handler("primary", "api_key", "primary_key")),
    Route("POST", "/{id}/keys/secondary", legacy.rotate_handler("secondary", "secondary_key")),
)
#: IO's CMS operations, manage key (`/topics` before `/{id}`: aiohttp matches in order).
CMS = (
    Route("POST", "", cms.cms_create_service),
    Route("GET", "", cms.cms_get_services),
    Route("GET", "/{id}", cms.cms_get_service),
    Route("PUT", "/{id}", cms.cms_update_service),
    Route("DELETE", "/{id}", cms.cms_delete_service),
    Route("PUT", "/{id}/logo", cms.cms_update_service_logo),
    Route("GET", "/{id}/history", cms.cms_get_service_history),
    Route("GET", "/{id}/keys", cms.cms_get_service_keys),
    Route("PUT", "/{id}/keys/{keyType}", cms.cms_regenerate_service_key),
    Route("PUT", "/{id}/review", cms.cms_review_service),
    Route("POST", "/{id}/release", cms.cms_release_service),
    Route("GET", "/{id}/release", cms.cms_get_published_service),
    Route("DELETE", "/{id}/release", cms.cms_unpublish_service),
)
#: The platform's routes beyond section 6's (paths after `/api/v1/admin`).
PLATFORM = (
    Route("POST", "/organizations", organizations.create_organization),
    Route("GET", "/organizations", organizations.list_organizations),
    Route(
        "POST",
        "/organizations/{organization_fiscal_code}/manage-keys",
        organizations.issue_manage_key,
    ),
    Route(
        "DELETE",
        "/organizations/{organization_fiscal_code}/manage-keys/{id}",
        organizations.revoke_manage_key,
    ),
    Route("GET", "/services/{id}/history", organizations.service_history),
)
PROFILES = (
    Route("PUT", "/profiles/{fiscal_code}", put_profile),
    Route("POST", "/profiles/{fiscal_code}/sessions", create_session),
)


def deprecated(handler: Handler) -> Handler:
    """The admin-only handler, its answer marked deprecated with its successor."""
    guarded = admin_only(handler)

    async def answer(request: web.Request) -> web.Response:
        response = await guarded(request)
        # The path as sent (percent-encoded): a decoded one may hold a line break,
        # which no header may carry.
        successor = ADMIN_BASE + request.raw_path.split("?", 1)[0].removeprefix(OLD_BASE)
        response.headers["Deprecation"] = DEPRECATED_SINCE
        response.headers["Link"] = f'<{successor}>; rel="successor-version"'
        resource = request.match_info.route.resource
        log.info("deprecated_route_used", route=resource.canonical if resource else None)
        return response

    answer.__name__ = handler.__name__
    return answer


@cms.manage_key_only
async def not_for_manage_keys(request: web.Request, actor: Actor) -> web.Response:
    """A manage key on a path only the platform's token may use (approve, reject...)."""
    return problem(403, "Forbidden", "not an operation of IO's CMS API: the platform's only")


def dispatch(cms_handler: Handler | None, old: Handler | None) -> Handler:
    """One path of both APIs: a manage key gets IO's CMS operation, the admin token
    section 6's (deprecated)."""
    old_handler = deprecated(old) if old is not None else None
    new_handler = cms_handler or not_for_manage_keys

    async def handler(request: web.Request) -> web.Response:
        if SENDER_HEADER in request.headers or old_handler is None:
            return await new_handler(request)
        return await old_handler(request)

    return handler


def _mount() -> None:
    for r in LEGACY:
        routes.route(r.method, f"{ADMIN_BASE}/services{r.suffix}")(admin_only(r.handler))
    for r in (*PLATFORM, *PROFILES):
        routes.route(r.method, ADMIN_BASE + r.suffix)(admin_only(r.handler))
    for r in PROFILES:
        routes.route(r.method, OLD_BASE + r.suffix)(deprecated(r.handler))
    routes.get(f"{OLD_BASE}/services/topics")(cms.get_service_topics)
    old = {(r.method, r.suffix): r.handler for r in LEGACY}
    new = {(r.method, r.suffix): r.handler for r in CMS}
    for method, suffix in dict.fromkeys([*new, *old]):
        handler = dispatch(new.get((method, suffix)), old.get((method, suffix)))
        routes.route(method, f"{OLD_BASE}/services{suffix}")(handler)


_mount()
