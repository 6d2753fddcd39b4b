"""Query strings of the back office's list routes: parsed here, documented from these
structs (the OpenAPI document lists their fields as the query parameters)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec
from aiohttp import web

from schemas.enums import ServiceState
from worker.ingress.problems import problem

MAX_PAGE = 100
Q = TypeVar("Q", bound=msgspec.Struct)


class ServiceListQuery(msgspec.Struct):
    """The query of section 6's service list."""

    state: ServiceState | None = None
    organization_fiscal_code: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{11}$")] | None = None
    cursor: Annotated[str, msgspec.Meta(description="`next` of the previous page")] | None = None
    page_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 20


class CmsPageQuery(msgspec.Struct):
    """IO's offset paging of `cmsGetServices`."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 20
    #: bounded so the database never sees an offset beyond its bigint (a 400, not a 500)
    offset: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0


class CmsHistoryQuery(msgspec.Struct):
    """IO's paging of `cmsGetServiceHistory`."""

    order: Literal["ASC", "DESC"] = "DESC"
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 10
    continuationToken: (
        Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}$", description="of the previous page")]
        | None
    ) = None


def parse_query(request: web.Request, query_type: type[Q]) -> Q | web.Response:
    """The query string as `query_type` (strings converted), or the 400 refusing it."""
    try:
        return msgspec.convert(dict(request.query), query_type, strict=False)
    except msgspec.ValidationError as exc:
        return problem(400, "Bad request", str(exc))
