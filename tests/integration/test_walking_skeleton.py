"""End to end over the real broker and PostgreSQL: submit over HTTP, deliver, read status."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

CITIZEN = "RSSMRA80A01H501U"
STRANGER = "VRDGPP80A01H501X"


async def test_a_message_to_a_known_citizen_is_accepted_then_processed(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)

    resp = await client.post(
        "/api/v1/messages", json=message_body(CITIZEN), headers={"Ocp-Apim-Subscription-Key": key}
    )
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    assert resp.headers["Location"] == f"/api/v1/messages/{CITIZEN}/{message_id}"
    assert len(message_id) == 26

    before = await client.get(resp.headers["Location"], headers={"Ocp-Apim-Subscription-Key": key})
    assert (await before.json())["status"] == "ACCEPTED"

    assert await drain(runtime) == 1

    after = await client.get(resp.headers["Location"], headers={"Ocp-Apim-Subscription-Key": key})
    body = await after.json()
    assert body["status"] == "PROCESSED"
    assert body["message"]["content"]["subject"] == "Avviso di pagamento TARI"


async def test_a_message_to_an_unknown_citizen_is_rejected_user_not_found(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, key = await create_service(runtime)
    await reload_services(client.app)
    resp = await client.post(
        f"/api/v1/messages/{STRANGER}",
        json=message_body(),
        headers={"Ocp-Apim-Subscription-Key": key},
    )
    assert resp.status == 201, await resp.text()
    await drain(runtime)
    status = await client.get(resp.headers["Location"], headers={"Ocp-Apim-Subscription-Key": key})
    body = await status.json()
    assert body["status"] == "REJECTED"
    assert body["rejection_reason"] == "USER_NOT_FOUND"


async def test_an_id_never_issued_is_not_found(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, key = await create_service(runtime)
    await reload_services(client.app)
    resp = await client.get(
        f"/api/v1/messages/{CITIZEN}/01M80ZZ7YPV52GGSADHPENDADE",
        headers={"Ocp-Apim-Subscription-Key": key},
    )
    assert resp.status == 404


async def test_an_unknown_api_key_is_refused(client: TestClient[Any, Any]) -> None:
    resp = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN),
        headers={"Ocp-Apim-Subscription-Key": "nope"},
    )
    assert resp.status == 401
    assert resp.content_type == "application/problem+json"
