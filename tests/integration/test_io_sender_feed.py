"""IO's subscriptions feed: the hashes of the fiscal codes that
subscribed to or unsubscribed from the calling service on a closed UTC day, built
from the preference and profile changes Postino stores, for services the platform
allowed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service
from tests.integration.helpers import ADMIN, session
from tests.integration.io_schema import validate
from tests.integration.sender_helpers import key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
NEW, LEAVES, UNDECIDED, QUITS, LEGACY = (
    "NWECTZ80A01H501U",
    "LVSCTZ80A01H501U",
    "NDCCTZ80A01H501U",
    "QTSCTZ80A01H501U",
    "LGCCTZ80A01H501U",
)
#: IO's FiscalCodeHash says 16 characters but means 64 hex digits (its own pattern).
HASH_FIX = {"FiscalCodeHash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}


def hashed(fiscal_code: str) -> str:
    return hashlib.sha256(fiscal_code.upper().encode()).hexdigest()


def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


async def _allowed_service(runtime: Runtime, client: Client) -> tuple[str, dict[str, str]]:
    service_id, api_key = await create_service(runtime)
    await reload_services(client.app)
    resp = await client.post(
        f"/api/v1/admin/services/{service_id}/subscriptions-feed", headers=ADMIN
    )
    assert resp.status == 200, await resp.text()
    return service_id, key(api_key)


async def _preference(client: Client, fiscal_code: str, service_id: str, inbox: bool) -> None:
    body = {
        "is_inbox_enabled": inbox,
        "is_push_enabled": inbox,
        "is_email_enabled": inbox,
        "can_access_message_read_status": True,
    }
    resp = await client.put(
        f"/api/v1/citizen/services/{service_id}/preferences",
        json=body,
        headers=await session(client, fiscal_code),
    )
    assert resp.status == 200, await resp.text()


async def _feed(client: Client, headers: dict[str, str], day: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/subscriptions-feed/{day}", headers=headers)
    assert resp.status == 200, await resp.text()
    feed: dict[str, Any] = await resp.json()
    validate(feed, "SubscriptionsFeed", patch=HASH_FIX)
    return feed


async def test_a_day_of_changes_becomes_that_days_feed_once_the_day_is_over(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _allowed_service(runtime, client)
    for old in (LEAVES, UNDECIDED, QUITS):
        await create_profile(runtime, old)  # existed before: no change logged
    new = await client.put(f"/api/v1/manage/profiles/{NEW}", json={}, headers=ADMIN)
    assert new.status == 201, await new.text()
    await _preference(client, LEAVES, service_id, False)
    await _preference(client, UNDECIDED, service_id, False)
    await _preference(client, UNDECIDED, service_id, True)  # undone the same day
    quit_inbox = await client.patch(
        "/api/v1/citizen/profile",
        json={"inbox_enabled": False},
        headers=await session(client, QUITS),
    )
    assert quit_inbox.status == 200, await quit_inbox.text()

    today = datetime.now(UTC).date().isoformat()
    not_yet = await client.get(f"/api/v1/subscriptions-feed/{today}", headers=headers)
    assert not_yet.status == 404
    await runtime.pool.execute("UPDATE subscription_changes SET day = day - 1")
    feed = await _feed(client, headers, yesterday())
    assert feed == {
        "dateUTC": yesterday(),
        "subscriptions": [hashed(NEW)],
        "unsubscriptions": sorted([hashed(LEAVES), hashed(QUITS)]),
    }
    assert (
        await runtime.pool.fetchval(
            "SELECT count(*) FROM subscription_changes WHERE fiscal_code_hash = ANY($1::text[])",
            [NEW, LEAVES, QUITS],
        )
        == 0
    ), "only hashes are stored, never fiscal codes"


async def test_legacy_blocked_inbox_is_an_unsubscription_from_that_service_only(
    runtime: Runtime, client: Client
) -> None:
    service_id, headers = await _allowed_service(runtime, client)
    _, other_headers = await _allowed_service(runtime, client)
    await create_profile(runtime, LEGACY, preferences_mode="LEGACY")
    blocked = {"preferences_mode": "LEGACY", "blocked_channels": {service_id: ["INBOX"]}}
    resp = await client.put(f"/api/v1/manage/profiles/{LEGACY}", json=blocked, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    await runtime.pool.execute("UPDATE subscription_changes SET day = day - 1")

    assert (await _feed(client, headers, yesterday()))["unsubscriptions"] == [hashed(LEGACY)]
    assert await _feed(client, other_headers, yesterday()) == {
        "dateUTC": yesterday(),
        "subscriptions": [],
        "unsubscriptions": [],
    }


async def test_the_feed_is_off_until_the_platform_allows_it_and_stops_when_told(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime)
    await reload_services(client.app)
    url, switch = (
        f"/api/v1/subscriptions-feed/{yesterday()}",
        f"/api/v1/admin/services/{service_id}/subscriptions-feed",
    )
    assert (await client.get(url, headers=key(api_key))).status == 403
    assert (await client.post(switch, headers=key(api_key))).status == 401
    assert (await client.post(switch, headers=ADMIN)).status == 200
    assert (await client.get(url, headers=key(api_key))).status == 200
    stopped = await client.delete(switch, headers=ADMIN)
    assert await stopped.json() == {"service_id": service_id, "subscriptions_feed": False}
    assert (await client.get(url, headers=key(api_key))).status == 403
    unknown = "/api/v1/admin/services/nope/subscriptions-feed"
    assert (await client.post(unknown, headers=ADMIN)).status == 404
    for bad in ("2026-13-01", "yesterday", "2026-1-01"):
        resp = await client.get(f"/api/v1/subscriptions-feed/{bad}", headers=key(api_key))
        assert resp.status == 400, bad
