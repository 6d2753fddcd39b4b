"""The HTTP API page, rendered from the checked-in OpenAPI document (no network)."""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

from devkit.reference.markdown import (
    BANNER,
    ROOT,
    code,
    json_block,
    rules_text,
    schema_section,
    table,
    type_text,
)

SOURCE = Path("schemas/generated/openapi.json")
#: Sections in reading order; a tag not listed here comes after them.
_TAGS = {
    "sender": "Sender API (IO's)",
    "citizen": "Citizen app API",
    "manage": "IO's CMS API (a public body's manage key)",
    "back-office": "Back office (the platform's)",
    "operations": "Operator console",
    "meta": "This document",
}
_DEPRECATED = (
    '!!! warning "Deprecated"\n    Still answered, with a `Deprecation` header and a `Link`'
    " to its successor.\n"
)
_AUTH = {
    "sender": "API key (`Ocp-Apim-Subscription-Key`)",
    "admin": "admin token (`Authorization: Bearer`)",
    "citizen": "citizen session (`Authorization: Bearer`)",
    "manage": "manage key (`Ocp-Apim-Subscription-Key`)",
}


def _body(content: dict[str, Any]) -> str:
    media, spec = next(iter(content.items()))
    schema = spec.get("schema", {})
    return f"{type_text(schema)} ({code(media)})"


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    out = [f"### {method.upper()} `{path}`\n", op.get("summary", "") + "\n"]
    if op.get("deprecated"):
        out.append(_DEPRECATED)
    auth = [_AUTH.get(name, name) for item in op.get("security", ()) for name in item]
    out.append("Authentication: " + (", ".join(auth) if auth else "none") + ".\n")
    params = op.get("parameters", [])
    if params:
        rows = [
            (
                code(p["name"]),
                p["in"],
                "yes" if p.get("required") else "",
                type_text(p.get("schema", {})),
                rules_text(p.get("schema", {})),
            )
            for p in params
        ]
        out.append(table(("parameter", "in", "required", "type", "rules"), rows))
    request = op.get("requestBody")
    if request:
        out.append("Request body: " + _body(request["content"]) + ".\n")
        sample = next(iter(request["content"].values())).get("example")
        if sample is not None:
            out.append(json_block(sample))
    answers: list[tuple[str, ...]] = []
    for status, answer in op.get("responses", {}).items():
        body = _body(answer["content"]) if answer.get("content") else ""
        headers = ", ".join(code(h) for h in answer.get("headers", {}))
        meaning = answer.get("description", "")
        if meaning == status and status.isdigit():
            meaning = HTTPStatus(int(status)).phrase
        answers.append((status, meaning, body, headers))
    out.append(table(("status", "meaning", "body", "headers"), answers))
    return "\n".join(out)


def _operations(doc: dict[str, Any]) -> list[str]:
    by_tag: dict[str, list[str]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(method, path, op))
    order = [t for t in _TAGS if t in by_tag] + sorted(t for t in by_tag if t not in _TAGS)
    out: list[str] = []
    for tag in order:
        out.append(f"## {_TAGS.get(tag, tag)}\n")
        out.extend(by_tag[tag])
    return out


def _webhooks(doc: dict[str, Any]) -> list[str]:
    out = ["## Callbacks (webhooks)\n"]
    for name, item in doc.get("webhooks", {}).items():
        for method, op in item.items():
            out.append(f"### {method.upper()} to the service's `callback_url` ({name})\n")
            out.append(op.get("description", "") + "\n")
            rows = [
                (code(p["name"]), "yes" if p.get("required") else "", p.get("description", ""))
                for p in op.get("parameters", ())
            ]
            out.append(table(("header", "required", "meaning"), rows))
            out.append("Body: " + _body(op["requestBody"]["content"]) + ".\n")
            answers = [(s, a.get("description", "")) for s, a in op["responses"].items()]
            out.append(table(("your answer", "what Postino does"), answers))
    return out


def render() -> str:
    doc = json.loads((ROOT / SOURCE).read_text())
    schemes = doc["components"]["securitySchemes"]
    head = [
        BANNER.format(source=str(SOURCE)),
        "# HTTP API reference\n",
        f"OpenAPI {doc['openapi']}, the document every ingress serves at"
        " `GET /api/v1/openapi.json` (checked in as `schemas/generated/openapi.json`)."
        " Errors are `application/problem+json`: see [Errors](errors.md).\n",
        table(
            ("scheme", "how"),
            (
                (
                    code(name),
                    _AUTH.get(name, "") + (f": {s['description']}" if "description" in s else ""),
                )
                for name, s in schemes.items()
            ),
        ),
    ]
    schemas = doc["components"]["schemas"]
    tail = ["## Schemas\n"] + [schema_section(n, schemas[n]) for n in sorted(schemas)]
    body = head + _operations(doc) + _webhooks(doc) + tail
    return "\n".join(body).rstrip() + "\n"
