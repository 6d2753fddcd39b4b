"""The OpenAPI 3.1 document of every HTTP route, generated from the msgspec structs.

Route modules declare each operation next to its handler with `declare(...)`, naming
the request and response types the handler really decodes and encodes; the schemas
come from those types with `msgspec.json.schema_components`, so the document and the
decoders cannot drift. A test walks `app.router` and fails when a route has no
declaration. To document a new route:

    openapi.declare("GET", "/api/v1/things/{id}", "Read a thing", tag="things",
                    security="sender", responses={200: ThingView}, query=ThingQuery,
                    errors=(409,))

Derived, so a route states only what is its own: typed path parameters (by name,
`PATH_PARAMETERS`), query parameters from a msgspec Struct (`query=`: its fields, types
and defaults), the problem+json 4xx answers (400 for anything the caller sends, 401 with
`WWW-Authenticate` for bearer routes, 403 and 429 with `Retry-After` for sender routes,
404 for a path naming something, plus `errors=`), `Location` on a 201 (`location=True`),
and one example per body, built from its schema (`openapi_examples`) unless given.
The checked-in copy is `schemas/generated/openapi.json` (`make schemas`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from schemas.patterns import FISCAL_CODE_PATTERN
from worker.ingress.auth import ADMIN_REALM, CITIZEN_REALM
from worker.ingress.openapi_examples import example
from worker.ingress.openapi_webhooks import WEBHOOK_TYPES, webhooks
from worker.ingress.problem_types import find
from worker.ingress.problems import PROBLEM, Problem

Security = Literal["sender", "admin", "citizen", "manage"]
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_SCHEMES: dict[str, dict[str, str]] = {
    "sender": {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key"},
    "admin": {"type": "http", "scheme": "bearer", "description": "POSTINO_ADMIN_TOKEN"},
    "citizen": {"type": "http", "scheme": "bearer", "description": "citizen session token"},
    "manage": {
        "type": "apiKey",
        "in": "header",
        "name": "Ocp-Apim-Subscription-Key",
        "description": "a public body's manage key (IO's ManageSubscriptionKey)",
    },
}
#: The realm each bearer scheme names in its `WWW-Authenticate` challenge.
BEARER_REALMS: dict[str, str] = {"admin": ADMIN_REALM, "citizen": CITIZEN_REALM}
SERVERS: list[dict[str, Any]] = [
    {
        "url": "https://{host}",
        "description": "a deployment (its public Ingress)",
        "variables": {"host": {"default": "postino.example.org"}},
    },
    {"url": "http://127.0.0.1:8080", "description": "`make run` on this machine"},
]
#: Path parameters by name; an unknown name is a non-empty string.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "fiscal_code": {
        "type": "string",
        "pattern": FISCAL_CODE_PATTERN,
        "description": "citizen fiscal code",
    },
    "id": {"type": "string", "minLength": 1, "maxLength": 64},
    "service_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "date": {
        "type": "string",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description": "a UTC day, YYYY-MM-DD",
    },
    "organization_fiscal_code": {
        "type": "string",
        "pattern": "^[0-9]{11}$",
        "description": "a public body's fiscal code",
    },
    "keyType": {"type": "string", "enum": ["primary", "secondary"]},
    "template_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "version": {"type": "integer", "minimum": 1},
}
#: Request headers by name; an unknown name is a string.
HEADERS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {
        "type": "string",
        "pattern": "^[\\x21-\\x7e]{1,255}$",
        "description": "a retry with the same key answers the first message's id",
    },
}
_TEXT_EXAMPLES = {
    "text/plain": "# HELP postino_http_requests_total HTTP requests\n"
    "# TYPE postino_http_requests_total counter\n",
    "text/html": '<!DOCTYPE html>\n<html lang="en">...</html>\n',
    "application/json": {"openapi": "3.1.0", "info": {"title": "Postino", "version": "1"}},
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    security: Security | tuple[Security, ...] | None = None
    request: Any = None
    #: status -> msgspec type of the JSON body, or None for a body that is not JSON/empty
    responses: dict[int, Any] = field(default_factory=dict)
    #: a msgspec Struct whose fields are the query parameters (names alone: strings)
    query: Any = ()
    headers: tuple[str, ...] = ()
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    location: bool = False
    example: Any = None
    deprecated: bool = False
    operation_id: str | None = None


_REGISTRY: dict[tuple[str, str], Operation] = {}


def declare(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    security: Security | tuple[Security, ...] | None = None,
    request: Any = None,
    responses: dict[int, Any] | None = None,
    query: Any = (),
    headers: tuple[str, ...] = (),
    content_type: str = "application/json",
    errors: tuple[int, ...] = (),
    location: bool = False,
    example: Any = None,
    deprecated: bool = False,
    operation_id: str | None = None,
) -> None:
    """Document one operation (idempotent: a re-declaration replaces the previous one).

    `errors`: problem statuses beyond the derived ones; `location`: the 201 carries a
    `Location` header; `example`: the request body's example (else built from its schema);
    `request`: the body's type, or a tuple of the types it may be (`anyOf`);
    `deprecated`: kept for a release, its successor named in the summary; `operation_id`:
    a name of its own (IO's, for the operations IO's document has).
    """
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
        errors,
        location,
        example,
        deprecated,
        operation_id,
    )
    _REGISTRY[(op.method, op.path)] = op


def operations() -> list[Operation]:
    return sorted(_REGISTRY.values(), key=lambda o: (o.path, o.method))


def _types() -> list[Any]:
    found: list[Any] = [Problem, *WEBHOOK_TYPES]
    for op in _REGISTRY.values():
        query = () if isinstance(op.query, tuple) else (op.query,)
        for t in (*_requests(op), *op.responses.values(), *query):
            if t is not None and t not in found:
                found.append(t)
    return found


def _requests(op: Operation) -> tuple[Any, ...]:
    """The request body types: one, or a tuple of alternatives (`anyOf`)."""
    return op.request if isinstance(op.request, tuple) else (op.request,)


def _query(op: Operation, components: dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(op.query, tuple):
        return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in op.query]
    struct = components[op.query.__name__]
    required = set(struct.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in struct["properties"].items()
    ]


def _parameters(op: Operation, components: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = {"type": "string", "minLength": 1}
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": PATH_PARAMETERS.get(n, unknown)}
        for n in _PARAM.findall(op.path)
    ]
    params += _query(op, components)
    params += [
        {"name": n, "in": "header", "schema": HEADERS.get(n, {"type": "string"})}
        for n in op.headers
    ]
    return params


def schemes(op: Operation) -> tuple[str, ...]:
    """The security schemes an operation accepts, any one of them (OpenAPI's list of
    alternatives): `security` is one scheme or a tuple of them."""
    if op.security is None:
        return ()
    return op.security if isinstance(op.security, tuple) else (op.security,)


def error_statuses(op: Operation) -> list[int]:
    """The problem+json statuses of an operation: derived (module docstring) + its own."""
    found = set(op.errors)
    if op.request is not None or op.query or _PARAM.search(op.path) or op.headers:
        found.add(400)
    if op.security is not None:
        found.add(401)
    if op.security == "sender":
        found |= {403, 429}
    if _PARAM.search(op.path):
        found.add(404)
    return sorted(found)


def _problem(op: Operation, status: int, refs: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    kind = find(status, "")
    title = kind.title if kind else "Error"
    sample = {"type": kind.uri if kind else "about:blank", "title": title, "status": status}
    sample |= {"detail": title.lower(), "code": kind.code if kind else ""}
    answer: dict[str, Any] = {
        "description": f"{title} (problem+json)",
        "content": {PROBLEM: {"schema": refs[Problem], "example": sample}},
    }
    bearers = [scheme for scheme in schemes(op) if scheme in BEARER_REALMS]
    if status == 401 and bearers:
        realm = BEARER_REALMS[bearers[0]]
        answer["headers"] = {
            "WWW-Authenticate": {
                "description": f'`Bearer realm="{realm}"` (RFC 6750)',
                "schema": {"type": "string"},
            }
        }
    if status == 429:
        answer["headers"] = {
            "Retry-After": {
                "description": "seconds to wait before the next try",
                "schema": {"type": "integer", "minimum": 0},
            }
        }
    return answer


def _response(
    op: Operation, status: int, body: Any, refs: dict[Any, dict[str, Any]], components: Any
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": f"{status}"}
    if body is not None:
        schema = refs[body]
        content = {"schema": schema, "example": example(schema, components)}
        answer["content"] = {op.content_type: content}
    elif 200 <= status < 300 and op.content_type in _TEXT_EXAMPLES:
        sample = _TEXT_EXAMPLES[op.content_type]
        schema = {"type": "string"} if isinstance(sample, str) else {"type": "object"}
        answer["content"] = {op.content_type: {"schema": schema, "example": sample}}
    if status == 201 and op.location:
        answer["headers"] = {
            "Location": {
                "description": "where to read what was created",
                "schema": {"type": "string", "format": "uri-reference"},
            }
        }
    return answer


def _operation(
    op: Operation, refs: dict[Any, dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(status): _problem(op, status, refs)
        if status >= 400 and body is None
        else _response(op, status, body, refs, components)
        for status, body in sorted(op.responses.items())
    }
    for status in error_statuses(op):
        responses.setdefault(str(status), _problem(op, status, refs))
    responses["default"] = {
        "description": "unexpected error (problem+json)",
        "content": {PROBLEM: {"schema": refs[Problem]}},
    }
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": op.operation_id
        or f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower())}",
        "parameters": _parameters(op, components),
        "responses": responses,
    }
    if op.request is not None:
        alternatives = [refs[t] for t in _requests(op)]
        schema = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
        sample = op.example if op.example is not None else example(schema, components)
        content = {"application/json": {"schema": schema, "example": sample}}
        doc["requestBody"] = {"required": True, "content": content}
    if op.security is not None:
        doc["security"] = [{scheme: []} for scheme in schemes(op)]
    if op.deprecated:
        doc["deprecated"] = True
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
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, components)
    for op in operations():  # query structs live in the parameters, not as schemas
        if not isinstance(op.query, tuple):
            components.pop(op.query.__name__, None)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": SERVERS,
        "paths": paths,
        "webhooks": webhooks(refs),
        "components": {"schemas": components, "securitySchemes": _SCHEMES},
    }
