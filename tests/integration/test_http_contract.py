"""What the OpenAPI document promises about headers, checked on real answers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.sender_helpers import CITIZEN, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services
from worker.ingress.auth import ADMIN_REALM, CITIZEN_REALM

Client = TestClient[Any, Any]


async def test_a_method_the_route_does_not_have_is_405_with_allow(client: Client) -> None:
    answer = await client.delete("/api/v1/messages")

    assert answer.status == 405
    assert answer.content_type == "application/problem+json"
    assert set(answer.headers["Allow"].split(",")) == {"POST"}


async def test_a_401_on_a_bearer_route_carries_its_challenge(client: Client) -> None:
    bare = await client.get("/api/v1/manage/services")
    wrong = await client.get(
        "/api/v1/citizen/profile", headers={"Authorization": "Bearer not-a-session"}
    )

    assert bare.status == 401
    assert bare.headers["WWW-Authenticate"] == f'Bearer realm="{ADMIN_REALM}"'
    assert wrong.status == 401
    assert wrong.headers["WWW-Authenticate"] == (
        f'Bearer realm="{CITIZEN_REALM}", error="invalid_token"'
    )


async def test_a_created_message_answers_its_location(runtime: Runtime, client: Client) -> None:
    _, api_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)

    answer = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=key(api_key))

    assert answer.status == 201
    created = await answer.json()
    assert answer.headers["Location"] == f"/api/v1/messages/{CITIZEN}/{created['id']}"
