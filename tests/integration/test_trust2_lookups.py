"""Lookups are bounded per key, and unknown tokens cost no round trip twice.

- `GET /api/v1/profiles/{fiscal_code}`, `POST /api/v1/profiles` and the status GET
  share a per-key rate (`POSTINO_LOOKUP_RATE_PER_SECOND`): past it, 429 with
  `Retry-After`, so a key cannot enumerate which fiscal codes are on IO. Another key
  is not slowed down.
- A citizen token found unknown is remembered for a while (bounded in size and
  time): a client retrying a bad token does not cost a PostgreSQL round trip each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.factories import create_profile, create_service
from tests.integration.sender_helpers import CITIZEN, key
from worker.bootstrap import Runtime
from worker.ingress.app import create_app, reload_services
from worker.ingress.keys import STORES, UNKNOWN_TOKENS

Client = TestClient[Any, Any]


@pytest.fixture
async def limited(runtime: Runtime) -> AsyncIterator[Client]:
    """An ingress whose lookups allow 2 per second per key, and remember 3 bad tokens."""
    settings = runtime.settings
    changed = replace(
        settings,
        limits=replace(settings.limits, lookup_rate_per_second=2),
        http=replace(settings.http, unknown_token_cache_size=3),
    )
    async with TestClient(TestServer(create_app(replace(runtime, settings=changed)))) as client:
        yield client


async def _statuses(client: Client, path: str, headers: dict[str, str], times: int) -> list[int]:
    return [(await client.get(path, headers=headers)).status for _ in range(times)]


async def test_profile_lookups_are_rate_limited_per_key(runtime: Runtime, limited: Client) -> None:
    _, api_key = await create_service(runtime)
    _, other_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(limited.app)

    statuses = await _statuses(limited, f"/api/v1/profiles/{CITIZEN}", key(api_key), 6)
    assert statuses[:2] == [200, 200]
    assert 429 in statuses
    refused = await limited.get(f"/api/v1/profiles/{CITIZEN}", headers=key(api_key))
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    posted = await limited.post(
        "/api/v1/profiles", json={"fiscal_code": CITIZEN}, headers=key(api_key)
    )
    assert posted.status == 429
    # another key has its own allowance
    assert (await limited.get(f"/api/v1/profiles/{CITIZEN}", headers=key(other_key))).status == 200


async def test_status_lookups_are_rate_limited_per_key(runtime: Runtime, limited: Client) -> None:
    _, api_key = await create_service(runtime)
    await reload_services(limited.app)
    path = f"/api/v1/messages/{CITIZEN}/01JNOSUCHMESSAGE0000000000"

    statuses = await _statuses(limited, path, key(api_key), 6)
    assert statuses[:2] == [404, 404]
    assert 429 in statuses


async def test_an_unknown_token_costs_one_database_lookup(limited: Client) -> None:
    citizens = limited.app[STORES].citizens
    looked_up: list[bytes] = []
    original = citizens.session_owner

    async def counted(token_hash: bytes) -> str | None:
        looked_up.append(token_hash)
        return await original(token_hash)

    citizens.session_owner = counted  # type: ignore[method-assign]
    bad = {"Authorization": "Bearer not-a-session-token"}
    for _ in range(5):
        assert (await limited.get("/api/v1/citizen/messages", headers=bad)).status == 401
    assert len(looked_up) == 1


async def test_the_cache_of_unknown_tokens_is_bounded_in_size_and_time(limited: Client) -> None:
    cache = limited.app[UNKNOWN_TOKENS]
    now = [1000.0]
    cache.clock = lambda: now[0]
    for n in range(5):
        cache.remember(f"hash-{n}".encode())
    assert len(cache) == 3  # the size setting
    assert not cache.known_unknown(b"hash-0")  # the oldest went first
    assert cache.known_unknown(b"hash-4")
    now[0] += cache.ttl_seconds + 1
    assert not cache.known_unknown(b"hash-4")


async def test_a_real_session_is_never_refused_by_the_cache(
    runtime: Runtime, limited: Client
) -> None:
    await create_profile(runtime, CITIZEN)
    resp = await limited.post(
        f"/api/v1/manage/profiles/{CITIZEN}/sessions",
        headers={"Authorization": "Bearer test-admin-token"},
    )
    token = (await resp.json())["token"]
    assert (
        await limited.get("/api/v1/citizen/messages", headers={"Authorization": f"Bearer {token}"})
    ).status == 200
