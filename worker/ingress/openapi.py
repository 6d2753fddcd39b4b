"""The OpenAPI 3.1 document of every HTTP route, generated from the msgspec structs.

Route modules declare each operation next to its handler with `declare(...)`, naming
the request and response types the handler really decodes and encodes; the schemas
come from those types with `msgspec.json.schema_components`, so the document and the
decoders cannot drift. A test walks `app.router` and fails when a route has no
declaration. To document a new route:

    openapi.declare("GET", "/api/v1/things/{id}", "Read a thing", tag="things",
                    security="sender", responses={200: ThingView})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from aiohttp import web

from worker.ingress.problems import PROBLEM, Problem

Security = Literal["sender", "admin", "citizen"]
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_SCHEMES: dict[str, dict[str, str]] = {
    "sender": {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"},
    "admin": {"type": "http", "scheme": "bearer", "description": "POSTINO_ADMIN_TOKEN"},
    "citizen": {"type": "http", "scheme": "bearer", "description": "citizen session token"},
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    security: Security | None = None
    request: Any = None
    #: status -> msgspec type of the JSON body, or None for a body that is not JSON/empty
    responses: dict[int, Any] = field(default_factory=dict)
    query: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    content_type: str = "application/json"


_REGISTRY: dict[tuple[str, str], Operation] = {}


def declare(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    security: Security | None = None,
    request: Any = None,
    responses: dict[int, Any] | None = None,
    query: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
    content_type: str = "application/json",
) -> None:
    """Document one operation (idempotent: a re-declaration replaces the previous one)."""
    op = Operation(
        method.upper(),
        path,
        summary,
        tag,
        security,
        request,
        responses or {200: None},
        query,
        headers,
        content_type,
    )
    _REGISTRY[(op.method, op.path)] = op


def operations() -> list[Operation]:
    return sorted(_REGISTRY.values(), key=lambda o: (o.path, o.method))


def _types() -> list[Any]:
    found: list[Any] = [Problem]
    for op in _REGISTRY.values():
        for t in (op.request, *op.responses.values()):
            if t is not None and t not in found:
                found.append(t)
    return found


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in _PARAM.findall(op.path)
    ]
    params += [{"name": n, "in": "query", "schema": {"type": "string"}} for n in op.query]
    params += [{"name": n, "in": "header", "schema": {"type": "string"}} for n in op.headers]
    return params


def _operation(op: Operation, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, body in sorted(op.responses.items()):
        answer: dict[str, Any] = {"description": f"{status}"}
        if body is not None:
            answer["content"] = {op.content_type: {"schema": refs[body]}}
        responses[str(status)] = answer
    responses["default"] = {
        "description": "error (problem+json)",
        "content": {PROBLEM: {"schema": refs[Problem]}},
    }
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower())}",
        "parameters": _parameters(op),
        "responses": responses,
    }
    if op.request is not None:
        content = {"application/json": {"schema": refs[op.request]}}
        doc["requestBody"] = {"required": True, "content": content}
    if op.security is not None:
        doc["security"] = [{op.security: []}]
    return doc


def document(title: str = "Postino", version: str = "1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared operation."""
    types = _types()
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in operations():
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": _SCHEMES},
    }


routes = web.RouteTableDef()


@routes.get("/api/v1/openapi.json")
async def openapi_json(_: web.Request) -> web.Response:
    return web.Response(body=msgspec.json.encode(document()), content_type="application/json")


declare("GET", "/api/v1/openapi.json", "This OpenAPI document", tag="meta")
