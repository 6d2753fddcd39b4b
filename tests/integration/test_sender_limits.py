"""Rate, daily quota and Idempotency-Key across several ingress processes (real stack)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import drain
from tests.integration.sender_helpers import CITIZEN, another_ingress, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services
from worker.ingress.limits import flush_now

Client = TestClient[Any, Any]


async def _send(client: Client, headers: dict[str, str]) -> Any:
    return await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=headers)


async def test_over_the_rate_the_answer_is_429_with_retry_after(
    runtime: Runtime, client: Client
) -> None:
    _, api_key = await create_service(runtime, rate_per_second=3)
    await reload_services(client.app)
    statuses = [(await _send(client, key(api_key))).status for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = await _send(client, key(api_key))
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await refused.json())["detail"] == "rate limit exceeded"


async def test_two_ingress_processes_share_the_daily_quota(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime, daily_quota=5)
    headers = key(api_key)
    await reload_services(client.app)
    async with another_ingress(runtime) as other:
        await reload_services(other.app)
        assert [(await _send(client, headers)).status for _ in range(3)] == [201] * 3
        await flush_now(client.app)
        await flush_now(other.app)  # learns nothing: has not seen the service yet
        assert (await _send(other, headers)).status == 201
        await flush_now(other.app)  # pushes 1, learns the total of 4
        assert (await _send(other, headers)).status == 201
        refused = await _send(other, headers)
        assert refused.status == 429
        assert (await refused.json())["detail"] == "daily quota exhausted"
        assert int(refused.headers["Retry-After"]) > 0
        await flush_now(other.app)
        await flush_now(client.app)
        assert (await _send(client, headers)).status == 429
    used = await runtime.pool.fetchval(
        "SELECT count FROM service_usage WHERE service_id = $1", service_id
    )
    assert used == 5


async def test_the_same_idempotency_key_on_two_ingresses_delivers_exactly_one_message(
    runtime: Runtime, client: Client
) -> None:
    _, api_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    headers = {**key(api_key), "Idempotency-Key": "pratica-2026-000123"}
    await reload_services(client.app)
    first = await _send(client, headers)
    async with another_ingress(runtime) as other:
        await reload_services(other.app)
        again = await _send(other, headers)
        assert first.status == again.status == 201
        message_id = (await first.json())["id"]
        assert (await again.json())["id"] == message_id
        assert first.headers["Location"] == again.headers["Location"]
    different = await _send(client, {**key(api_key), "Idempotency-Key": "pratica-2026-000124"})
    assert (await different.json())["id"] != message_id
    await drain(runtime)
    count = await runtime.pool.fetchval(
        "SELECT count(*) FROM messages WHERE id = $1 AND status = 'PROCESSED'", message_id
    )
    assert count == 1
    assert await runtime.pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_an_unusable_idempotency_key_is_400(runtime: Runtime, client: Client) -> None:
    _, api_key = await create_service(runtime)
    await reload_services(client.app)
    resp = await _send(client, {**key(api_key), "Idempotency-Key": "x" * 256})
    assert resp.status == 400
    assert (await resp.json())["detail"].startswith("Idempotency-Key:")
