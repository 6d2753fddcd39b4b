"""Logos: IO's uploads, and the images the citizen app shows.

- `PUT /api/v1/organizations/{organization_fiscal_code}/logo` (IO's
  `uploadOrganizationLogo`): a service key of that organisation, or the admin token.
- `PUT /api/v1/services/{service_id}/logo`: that service's own key, or the admin token.
Both take IO's `Logo` body (`{"logo": "<base64 PNG>"}`) and answer 202, as IO does;
a refused image is 400 naming why (`worker.services.logos`).
- `GET /api/v1/logos/organizations/{organization_fiscal_code}` and
  `GET /api/v1/logos/services/{service_id}` (a service without its own logo shows its
  organisation's): `image/png`, public (logos are public, as on IO's CDN), with an
  `ETag` and `Cache-Control`; `If-None-Match` answers 304.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from worker import logs
from worker.ingress import openapi
from worker.ingress.auth import SENDER_HEADER, is_admin
from worker.ingress.bodies import read_body
from worker.ingress.keys import RUNTIME, STORES
from worker.ingress.network import networked_sender
from worker.ingress.problems import problem
from worker.services import logos
from worker.services.logos import StoredLogo

log = logs.get("postino.logos")
routes = web.RouteTableDef()
ORGANIZATION_LOGO = "/api/v1/organizations/{organization_fiscal_code}/logo"
SERVICE_LOGO = "/api/v1/services/{service_id}/logo"
SERVED_ORGANIZATION = "/api/v1/logos/organizations/{organization_fiscal_code}"
SERVED_SERVICE = "/api/v1/logos/services/{service_id}"
#: How long the app may reuse a logo without asking again (then it revalidates).
_CACHE = "public, max-age=3600, must-revalidate"


class LogoBody(msgspec.Struct):
    """IO's `Logo`: the base64 of a PNG."""

    logo: Annotated[str, msgspec.Meta(min_length=1)]


def served_url(kind: logos.Kind, owner: str) -> str:
    """Where the citizen app fetches a logo (relative to the API's host)."""
    template = SERVED_SERVICE if kind == logos.SERVICE else SERVED_ORGANIZATION
    return template.replace("{service_id}", owner).replace("{organization_fiscal_code}", owner)


def _refused(
    request: web.Request, *, organization: str | None, service_id: str | None
) -> web.Response | None:
    """None when the caller may change this logo: the admin, or a sender whose key is
    of that service (or of a service of that organisation)."""
    if is_admin(request) and SENDER_HEADER not in request.headers:
        return None
    caller = networked_sender(request)
    if isinstance(caller, web.Response):
        return caller
    if caller.id == service_id or caller.organization_fiscal_code == organization:
        return None
    return problem(403, "Forbidden", "this key may not change that logo")


async def _save(request: web.Request, kind: logos.Kind, owner: str) -> web.Response:
    body = await read_body(request, LogoBody)
    if isinstance(body, web.Response):
        return body
    try:
        limit = request.app[RUNTIME].settings.sender_api.logo_max_bytes
        await logos.save(request.app[STORES].logos, kind, owner, body.logo, limit)
    except logos.InvalidLogo as exc:
        return problem(400, "Invalid logo", str(exc))
    log.info("logo_saved", kind=kind, owner=owner)
    return web.Response(status=202)


@routes.put(ORGANIZATION_LOGO)
async def upload_organization_logo(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["organization_fiscal_code"]
    refused = _refused(request, organization=fiscal_code, service_id=None)
    if refused is not None:
        return refused
    if not (len(fiscal_code) == 11 and fiscal_code.isascii() and fiscal_code.isdigit()):
        return problem(400, "Bad request", "organization_fiscal_code: expected 11 digits")
    return await _save(request, logos.ORGANIZATION, fiscal_code)


@routes.put(SERVICE_LOGO)
async def upload_service_logo(request: web.Request) -> web.Response:
    service_id = request.match_info["service_id"]
    refused = _refused(request, organization=None, service_id=service_id)
    if refused is not None:
        return refused
    found = await request.app[STORES].services.directory_entry(service_id)
    if found is None or not found.can_send:
        return problem(404, "Not found", "no such service")
    return await _save(request, logos.SERVICE, service_id)


def _image(request: web.Request, logo: StoredLogo | None) -> web.Response:
    if logo is None:
        return problem(404, "Not found", "no logo")
    headers = {"ETag": logo.etag, "Cache-Control": _CACHE, "X-Content-Type-Options": "nosniff"}
    if logo.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=logo.png, content_type="image/png", headers=headers)


@routes.get(SERVED_ORGANIZATION)
async def organization_logo(request: web.Request) -> web.Response:
    fiscal_code = request.match_info["organization_fiscal_code"]
    return _image(request, await request.app[STORES].logos.organization_logo(fiscal_code))


@routes.get(SERVED_SERVICE)
async def service_logo(request: web.Request) -> web.Response:
    service_id = request.match_info["service_id"]
    return _image(request, await request.app[STORES].logos.service_logo(service_id))


for _path, _summary in (
    (ORGANIZATION_LOGO, "Upload an organisation's logo (IO's uploadOrganizationLogo)"),
    (SERVICE_LOGO, "Upload a service's logo"),
):
    openapi.declare(
        "PUT",
        _path,
        f"{_summary}: a square PNG of {logos.MIN_SIDE} to {logos.MAX_SIDE} pixels a side,"
        " base64; a service key of that organisation or service, or the admin token",
        tag="sender",
        security="sender",
        request=LogoBody,
        responses={202: None},
    )
for _path, _summary in (
    (SERVED_ORGANIZATION, "An organisation's logo (public; ETag, If-None-Match)"),
    (SERVED_SERVICE, "A service's logo, else its organisation's (public; ETag)"),
):
    openapi.declare(
        "GET", _path, _summary, tag="logos", responses={200: None}, content_type="image/png"
    )
