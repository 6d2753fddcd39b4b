"""Who may act on one service's back office: the one auth dependency of its routes.

A service's own routes (templates, reports) answer to "a manage key of the service's
body, or the platform admin" (docs/integrators/cms-api.md). `service_manager` is that rule, in one
place: a handler written with `manages_service` gets the `Manager` and the service,
never the credentials, so how a manage key is checked can change here alone.

The credentials: the platform admin token (`Authorization: Bearer`), or a body's
manage key (`Ocp-Apim-Subscription-Key`, IO's `ManageSubscriptionKey`). A manage key
reaches only its own body's services: another body's answers 404, never 403, so a key
never learns that another body's service exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from worker import logs
from worker.ingress.auth import ADMIN_REALM, SENDER_HEADER, Handler, bearer_refusal, is_admin
from worker.ingress.keys import DIRECTORY, STORES
from worker.ingress.problems import problem
from worker.services import organizations
from worker.services.backoffice_model import ADMIN, Actor
from worker.services.directory import Service


@dataclass(frozen=True, slots=True)
class Manager:
    """Who is acting (the back office's `Actor`), as the service's routes need it."""

    actor: Actor

    @property
    def label(self) -> str:
        """Kept with what they write: "admin", or "manage_key:<the key's id>"."""
        kind = self.actor.kind.value
        return kind if self.actor.id is None else f"{kind}:{self.actor.id}"

    def may_manage(self, service: Service) -> bool:
        """A manage key manages its own body's services; the platform, every one."""
        org = self.actor.organization_fiscal_code
        return org is None or org == service.organization_fiscal_code


ServiceHandler = Callable[[web.Request, Manager, Service], Awaitable[web.Response]]


async def _manage_key(request: web.Request) -> Manager | None:
    """The body's manager named by the request's manage key, if it is a live one."""
    given = request.headers.get(SENDER_HEADER)
    actor = await organizations.authenticate(request.app[STORES].organizations, given)
    if actor is None or actor.organization_fiscal_code is None:
        return None
    logs.bind(organization=actor.organization_fiscal_code, manage_key_id=actor.id)
    return Manager(actor)


def _not_found() -> web.Response:
    return problem(404, "Not found", "no such service")


async def service_manager(
    request: web.Request, service_id: str
) -> tuple[Manager, Service] | web.Response:
    """The caller and the service it may manage, or the answer: 401 without a valid
    credential, 404 for an unknown service or another body's."""
    manager = Manager(ADMIN) if is_admin(request) else await _manage_key(request)
    if manager is None:
        detail = f"missing or wrong back-office credentials (admin token or {SENDER_HEADER})"
        return bearer_refusal(request, ADMIN_REALM, detail)
    service = request.app[DIRECTORY].by_id(service_id)
    if service is None or not manager.may_manage(service):
        return _not_found()
    logs.bind(service_id=service.id)
    return manager, service


def manages_service(handler: ServiceHandler) -> Handler:
    """The handler, called with the manager and the service of the path's `{id}`."""

    async def guarded(request: web.Request) -> web.Response:
        found = await service_manager(request, request.match_info["id"])
        if isinstance(found, web.Response):
            return found
        return await handler(request, *found)

    guarded.__name__ = handler.__name__
    return guarded
