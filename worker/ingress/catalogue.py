"""The citizen's service catalogue: `GET /api/v1/citizen/services`
(published services, `?topic_id=`, `?scope=`, cursor pages) and
`GET /api/v1/citizen/services/{service_id}`, each with the card as served, its topic,
its logo URL, and the calling citizen's own preference for it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgspec
from aiohttp import web

from schemas.service_topics import ServiceTopic, topic
from worker.ingress import openapi
from worker.ingress.citizen import citizen_only
from worker.ingress.citizen_views import PreferenceView
from worker.ingress.keys import STORES
from worker.ingress.logos import served_url
from worker.ingress.problems import json_response, problem
from worker.services import catalogue, citizen, logos
from worker.services.catalogue import Entry

routes = web.RouteTableDef()
LIST = "/api/v1/citizen/services"
ONE = LIST + "/{service_id}"


class OrganizationView(msgspec.Struct):
    name: str
    fiscal_code: str


class ServiceMetadataView(msgspec.Struct, kw_only=True, omit_defaults=True):
    scope: str | None = None
    topic: ServiceTopic | None = None
    privacy_url: str | None = None
    email: str | None = None
    pec: str | None = None
    phone: str | None = None
    support_url: str | None = None


class CatalogueServiceView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    organization: OrganizationView
    description: str | None
    metadata: ServiceMetadataView
    #: Relative to the API's host; None when neither the service nor its body has one.
    logo_url: str | None
    preferences: PreferenceView


class CataloguePageView(msgspec.Struct):
    items: list[CatalogueServiceView]
    next: str | None


class CatalogueQuery(msgspec.Struct):
    """The catalogue's query (for the OpenAPI document; the handler parses it)."""

    topic_id: Annotated[int, msgspec.Meta(ge=0, description="IO's topic id")] | None = None
    scope: Annotated[str, msgspec.Meta(pattern="^(NATIONAL|LOCAL)$")] | None = None
    page_size: Annotated[int, msgspec.Meta(ge=1, le=citizen.MAX_PAGE_SIZE)] = (
        citizen.DEFAULT_PAGE_SIZE
    )
    cursor: Annotated[str, msgspec.Meta(description="`next` of the previous page")] | None = None


def _view(entry: Entry) -> CatalogueServiceView:
    row: dict[str, Any] = entry.row
    metadata = ServiceMetadataView(
        scope=row["scope"],
        topic=topic(row["topic_id"]),
        privacy_url=row["privacy_url"],
        email=row["email"],
        pec=row["pec"],
        phone=row["phone"],
        support_url=row["support_url"],
    )
    return CatalogueServiceView(
        id=row["id"],
        name=row["name"],
        organization=OrganizationView(row["organization_name"], row["organization_fiscal_code"]),
        description=row["description"],
        metadata=metadata,
        logo_url=served_url(logos.SERVICE, row["id"]) if row["has_logo"] else None,
        preferences=PreferenceView(row["id"], **dataclasses.asdict(entry.preference)),
    )


@routes.get(LIST)
@citizen_only
async def services(request: web.Request, fiscal_code: str) -> web.Response:
    stores, query = request.app[STORES], request.query
    profile = await stores.citizens.profile(fiscal_code)
    if profile is None:
        return problem(404, "Not found", "no such profile")
    try:
        chosen = catalogue.filters(query.get("topic_id"), query.get("scope"))
        size = citizen.page_size(query.get("page_size"))
        found = await catalogue.page(stores.catalogue, profile, chosen, query.get("cursor"), size)
    except citizen.InvalidRequest as exc:
        return problem(400, "Bad request", str(exc))
    return json_response(CataloguePageView([_view(e) for e in found.items], found.next))


@routes.get(ONE)
@citizen_only
async def one_service(request: web.Request, fiscal_code: str) -> web.Response:
    stores = request.app[STORES]
    profile = await stores.citizens.profile(fiscal_code)
    if profile is None:
        return problem(404, "Not found", "no such profile")
    entry = await catalogue.one(stores.catalogue, profile, request.match_info["service_id"])
    if entry is None:
        return problem(404, "Not found", "no such published service")
    return json_response(_view(entry))


openapi.declare(
    "GET",
    LIST,
    "Published services with their card, topic, logo and the citizen's own preferences",
    tag="citizen",
    security="citizen",
    responses={200: CataloguePageView},
    query=CatalogueQuery,
)
openapi.declare(
    "GET",
    ONE,
    "One published service with its card and the citizen's own preferences",
    tag="citizen",
    security="citizen",
    responses={200: CatalogueServiceView},
)
