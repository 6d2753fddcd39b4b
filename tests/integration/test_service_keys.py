"""Primary and secondary keys (docs/integrators/services.md): regenerating one never stops the
other, so a sender rotates with no failed request."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.factories import CARD, message_body
from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import SANDBOX, another_ingress, key
from worker.bootstrap import Runtime

Client = TestClient[Any, Any]
SERVICES = "/api/v1/manage/services"
NEW = {
    "name": "Tributi",
    "organization_name": "Comune",
    "organization_fiscal_code": "12345678901",
    # The rotation below sends as fast as the machine allows: no 429 may hide a 401.
    "rate_per_second": 100_000,
    "daily_quota": 10_000_000,
}


async def _post(client: Client, path: str) -> dict[str, Any]:
    resp = await client.post(
        path, headers=ADMIN, json={**NEW, **CARD} if path == SERVICES else None
    )
    assert resp.status in (200, 201), await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def _send(client: Client, api_key: str) -> int:
    body = message_body(SANDBOX)
    return (await client.post("/api/v1/messages", json=body, headers=key(api_key))).status


async def _profile(client: Client, api_key: str) -> int:
    return (await client.get(f"/api/v1/profiles/{SANDBOX}", headers=key(api_key))).status


async def test_both_keys_work_and_a_rotation_one_key_at_a_time_fails_no_request(
    runtime: Runtime, client: Client
) -> None:
    created = await _post(client, SERVICES)
    one = f"{SERVICES}/{created['id']}"
    primary, secondary = created["primary_key"], created["secondary_key"]
    assert created["api_key"] == primary != secondary
    for api_key in (primary, secondary):
        assert await _send(client, api_key) == 201
        assert await _profile(client, api_key) == 404  # authenticated; no profile

    async with another_ingress(runtime) as other:
        current = primary  # what the sender's systems use
        statuses: list[int] = []
        done = asyncio.Event()

        async def sender() -> None:
            while not done.is_set():
                for ingress in (client, other):
                    statuses.append(await _send(ingress, current))

        task = asyncio.create_task(sender())
        # 1. regenerate the secondary, wait until every ingress knows it, switch to it
        new_secondary = (await _post(client, f"{one}/keys/secondary"))["secondary_key"]
        await eventually(lambda: _send(other, new_secondary), lambda s: s == 201)
        current = new_secondary
        # 2. now the primary can be regenerated: nobody uses it
        new_primary = (await _post(client, f"{one}/keys/primary"))["primary_key"]
        assert await _send(client, primary) == 401
        await eventually(lambda: _send(other, primary), lambda s: s == 401)
        await eventually(lambda: asyncio.sleep(0, len(statuses)), lambda n: n >= 20)
        done.set()
        await task

    assert statuses and set(statuses) == {201}, statuses
    assert await _send(client, new_primary) == 201
    assert await _send(client, secondary) == 401
    legacy = await _post(client, f"{one}/keys")  # the legacy route: rotates the primary
    assert legacy["api_key"] == legacy["primary_key"] != new_primary
    assert "secondary_key" not in legacy
    assert await _send(client, new_secondary) == 201
