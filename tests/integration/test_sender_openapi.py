"""The OpenAPI document: valid OpenAPI 3, served, covering every route of the app."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from schemas.messages import NewMessage, TemplatedMessage


async def test_the_document_is_valid_openapi_3(client: TestClient[Any, Any]) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    document = await resp.json()
    assert document["openapi"].startswith("3.")
    validate(document)


async def test_every_route_of_the_app_is_documented(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    missing = []
    for route in client.app.router.routes():
        if route.method in ("HEAD", "*") or route.resource is None:
            continue
        path = route.resource.canonical
        if route.method.lower() not in document["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert missing == [], f"routes without an OpenAPI declaration: {missing}"


async def test_the_message_schema_is_the_decoder_s_own(client: TestClient[Any, Any]) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert schemas["MessageContent"]["properties"]["subject"] == {
        "type": "string",
        "minLength": 10,
        "maxLength": 120,
    }
    operation = document["paths"]["/api/v1/messages"]["post"]
    bodies = operation["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
    assert [b["$ref"].rsplit("/", 1)[-1] for b in bodies] == [
        NewMessage.__name__,
        TemplatedMessage.__name__,
    ]
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
