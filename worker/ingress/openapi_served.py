"""The OpenAPI document, served: public and unauthenticated, so it costs nothing per
request. Built once per process (the declarations are all made at import), gzipped
once, and served with an `ETag` per representation: a client that has it gets 304."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass

import msgspec
from aiohttp import web

from worker.ingress import openapi

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class _Served:
    """The document as served: JSON, gzipped, and the ETag of each representation."""

    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str


@functools.cache
def _served() -> _Served:
    """Built on first use, once per process: the declarations are all made at import."""
    body = msgspec.json.encode(openapi.document())
    digest = hashlib.sha256(body).hexdigest()[:32]
    return _Served(body, gzip.compress(body, compresslevel=9), f'"{digest}"', f'"{digest}-gz"')


def _matches(header: str | None, served: _Served) -> bool:
    """Whether `If-None-Match` names the current document (either representation)."""
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or served.etag in tags or served.gzip_etag in tags


@routes.get("/api/v1/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    served = _served()
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    headers = {
        "ETag": served.gzip_etag if gzipped else served.etag,
        "Vary": "Accept-Encoding",
        "Cache-Control": "public, max-age=300",
    }
    if _matches(request.headers.get("If-None-Match"), served):
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = served.gzipped if gzipped else served.body
    return web.Response(body=body, content_type="application/json", headers=headers)


openapi.declare("GET", "/api/v1/openapi.json", "This OpenAPI document", tag="meta")
