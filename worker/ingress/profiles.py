"""Sender API: may this service write to this citizen? (docs/integrators/sending.md)

403 first, before any lookup, when the service may not reach the citizen at all, so
the answer never reveals whether the citizen exists. 404 when there is no profile or
its inbox is disabled. Otherwise `sender_allowed` is the inbox rule of the delivery
decision (`worker.services.decide.inbox_allowed`), the same code deliver runs.
Lookups (these and the message status) share a rate per key
(`POSTINO_LOOKUP_RATE_PER_SECOND`): past it, 429 with `Retry-After`.
"""

from __future__ import annotations

from aiohttp import web

from schemas.patterns import is_fiscal_code
from worker.ingress import openapi
from worker.ingress.bodies import read_body
from worker.ingress.keys import STORES
from worker.ingress.limits import lookup_sender
from worker.ingress.problems import json_response, problem
from worker.ingress.sender_views import FiscalCodeBody, LimitedProfile
from worker.services.decide import inbox_allowed
from worker.services.directory import Service

routes = web.RouteTableDef()


async def _limited_profile(
    request: web.Request, service: Service, fiscal_code: str
) -> web.Response:
    if not is_fiscal_code(fiscal_code):
        return problem(400, "Bad request", "fiscal_code: not a valid fiscal code")
    if not service.can_send or not service.may_reach(fiscal_code):
        return problem(
            403,
            "Recipient forbidden",
            "this service is not published and the citizen is not an authorized recipient",
        )
    profile, preference = await request.app[STORES].profiles.for_service(fiscal_code, service.id)
    if profile is None or not profile.inbox_enabled:
        return problem(404, "Not found", "no profile for this fiscal code")
    allowed = inbox_allowed(profile, service.id, preference)
    return json_response(LimitedProfile(allowed, list(profile.preferred_languages)))


@routes.get("/api/v1/profiles/{fiscal_code}")
async def get_profile(request: web.Request) -> web.Response:
    service = lookup_sender(request)
    if isinstance(service, web.Response):
        return service
    return await _limited_profile(request, service, request.match_info["fiscal_code"])


@routes.post("/api/v1/profiles")
async def post_profile(request: web.Request) -> web.Response:
    service = lookup_sender(request)
    if isinstance(service, web.Response):
        return service
    decoded = await read_body(request, FiscalCodeBody)
    if isinstance(decoded, web.Response):
        return decoded
    return await _limited_profile(request, service, decoded.fiscal_code)


openapi.declare(
    "GET",
    "/api/v1/profiles/{fiscal_code}",
    "May this service write to this citizen",
    tag="sender",
    security="sender",
    responses={200: LimitedProfile},
)
openapi.declare(
    "POST",
    "/api/v1/profiles",
    "May this service write to this citizen (fiscal code in the body)",
    tag="sender",
    security="sender",
    request=FiscalCodeBody,
    responses={200: LimitedProfile},
)
