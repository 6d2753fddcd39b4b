"""Back-office (docs/integrators/services.md) on the real stack: lifecycle, keys, callbacks,
profiles."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.factories import CARD, create_service, message_body
from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import CITIZEN, SANDBOX, another_ingress, key
from worker.bootstrap import Runtime
from worker.services.directory import hash_key

Client = TestClient[Any, Any]
SERVICES = "/api/v1/manage/services"
NEW_SERVICE = {
    "name": "Tributi",
    "organization_name": "Comune di Prova",
    "organization_fiscal_code": "12345678901",
    **CARD,
}


async def _create(client: Client, **fields: Any) -> dict[str, Any]:
    resp = await client.post(SERVICES, json={**NEW_SERVICE, **fields}, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def _act(client: Client, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    resp = await client.request(method, path, headers=ADMIN, **kw)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _send(client: Client, api_key: str, fiscal_code: str = CITIZEN) -> int:
    resp = await client.post(
        "/api/v1/messages", json=message_body(fiscal_code), headers=key(api_key)
    )
    return resp.status


async def test_a_new_service_is_a_draft_whose_key_is_shown_once_and_stored_hashed(
    runtime: Runtime, client: Client
) -> None:
    created = await _create(client, premium=True, daily_quota=500)
    assert (created["state"], created["published"], created["premium"]) == ("draft", False, True)
    assert created["daily_quota"] == 500
    stored = await runtime.pool.fetchval(
        "SELECT api_key_hash FROM services WHERE id = $1", created["id"]
    )
    assert bytes(stored) == hash_key(created["api_key"])
    read = await _act(client, "GET", f"{SERVICES}/{created['id']}")
    assert "api_key" not in read
    # a draft may send to the sandbox only, at once on this process
    assert await _send(client, created["api_key"], SANDBOX) == 201
    assert await _send(client, created["api_key"]) == 403


async def test_the_lifecycle_moves_as_the_rules_say_and_answers_409_otherwise(
    client: Client,
) -> None:
    created = await _create(client)
    one = f"{SERVICES}/{created['id']}"
    await _act(client, "POST", f"{one}/approve", 409)
    await _act(client, "POST", f"{one}/release", 409)
    assert (await _act(client, "PUT", f"{one}/review"))["state"] == "submitted"
    await _act(client, "PATCH", one, 409, json={"name": "Altro"})
    await _act(client, "DELETE", one, 409)
    assert (await _act(client, "POST", f"{one}/abort"))["state"] == "draft"
    await _act(client, "PUT", f"{one}/review")
    rejected = await _act(client, "POST", f"{one}/reject", json={"reason": "logo mancante"})
    assert (rejected["state"], rejected["reject_reason"]) == ("rejected", "logo mancante")
    await _act(client, "POST", f"{one}/reject", 409, json={"reason": "again"})
    assert (await _act(client, "PATCH", one, json={"name": "Tributi 2"}))["state"] == "draft"
    await _act(client, "PUT", f"{one}/review")
    approved = await _act(client, "POST", f"{one}/approve")
    assert (approved["state"], approved["reject_reason"]) == ("approved", None)
    published = await _act(client, "POST", f"{one}/release")
    assert published["published"] is True
    assert await _send(client, created["api_key"]) == 201
    assert (await _act(client, "DELETE", f"{one}/release"))["published"] is False
    assert await _send(client, created["api_key"]) == 403
    await _act(client, "POST", f"{one}/release")
    edited = await _act(client, "PATCH", one, json={"rate_per_second": 5})
    assert (edited["state"], edited["published"]) == ("approved", True)
    assert (await _act(client, "DELETE", one))["state"] == "deleted"
    assert await _send(client, created["api_key"]) == 401
    await _act(client, "PATCH", one, 409, json={"name": "x"})
    await _act(client, "POST", f"{one}/keys", 409)
    assert await _send(client, created["api_key"], SANDBOX) == 401
    await _act(client, "GET", f"{SERVICES}/nope", 404)


async def test_rotating_the_key_stops_the_old_one_on_every_ingress_within_seconds(
    runtime: Runtime, client: Client
) -> None:
    created = await _create(client)
    async with another_ingress(runtime) as other:
        await eventually(lambda: _send(other, created["api_key"], SANDBOX), lambda s: s == 201)
        rotated = await _act(client, "POST", f"{SERVICES}/{created['id']}/keys")
        new_key = rotated["api_key"]
        assert new_key != created["api_key"]
        assert await _send(client, created["api_key"], SANDBOX) == 401
        assert await _send(client, new_key, SANDBOX) == 201
        await eventually(lambda: _send(other, created["api_key"], SANDBOX), lambda s: s == 401)
        assert await _send(other, new_key, SANDBOX) == 201


async def test_the_admin_token_and_sender_keys_never_open_each_others_doors(
    runtime: Runtime, client: Client
) -> None:
    _, api_key = await create_service(runtime)
    routes = [
        ("POST", SERVICES),
        ("GET", f"{SERVICES}/x"),
        ("PATCH", f"{SERVICES}/x"),
        ("DELETE", f"{SERVICES}/x"),
        ("PUT", f"{SERVICES}/x/review"),
        ("POST", f"{SERVICES}/x/approve"),
        ("POST", f"{SERVICES}/x/reject"),
        ("POST", f"{SERVICES}/x/abort"),
        ("POST", f"{SERVICES}/x/release"),
        ("DELETE", f"{SERVICES}/x/release"),
        ("POST", f"{SERVICES}/x/keys"),
        ("POST", f"{SERVICES}/x/keys/primary"),
        ("POST", f"{SERVICES}/x/keys/secondary"),
        ("GET", SERVICES),
        ("PUT", f"/api/v1/manage/profiles/{CITIZEN}"),
    ]
    for method, path in routes:
        for headers in ({}, key(api_key), {"Authorization": f"Bearer {api_key}"}):
            resp = await client.request(method, path, headers=headers, json={})
            assert resp.status == 401, (method, path, headers)
    resp = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=ADMIN)
    assert resp.status == 401


async def test_a_callback_url_is_validated_and_gets_a_secret_shown_once(client: Client) -> None:
    for unsafe in ("ftp://example.org/x", "https://169.254.169.254/", "https://10.0.0.1/hook"):
        resp = await client.post(
            SERVICES, json={**NEW_SERVICE, "callback_url": unsafe}, headers=ADMIN
        )
        assert resp.status == 400, unsafe
        assert (await resp.json())["detail"].startswith("callback_url:")
    created = await _create(
        client, callback_url="http://127.0.0.1:9/hook"
    )  # loopback allowed in tests
    assert len(created["callback_secret"]) >= 32
    one = f"{SERVICES}/{created['id']}"
    same = await _act(client, "PATCH", one, json={"callback_url": "http://127.0.0.1:9/hook"})
    assert "callback_secret" not in same
    moved = await _act(client, "PATCH", one, json={"callback_url": "http://127.0.0.1:10/hook"})
    assert moved["callback_secret"] not in (None, created["callback_secret"])
    cleared = await _act(client, "PATCH", one, json={"callback_url": None})
    assert cleared["callback_url"] is None
    await _act(client, "PATCH", one, 400, json={"callback_url": "https://192.168.1.1/"})


async def test_bad_back_office_bodies_are_400_naming_the_field(client: Client) -> None:
    cases = [
        ({**NEW_SERVICE, "organization_fiscal_code": "123"}, "organization_fiscal_code:"),
        ({**NEW_SERVICE, "authorized_cidrs": ["10.0.0.0/33"]}, "body:"),
        ({**NEW_SERVICE, "rate_per_second": 0}, "rate_per_second:"),
        ({**NEW_SERVICE, "typo": 1}, "body:"),
        ({"name": "x"}, "organization_name: required"),
    ]
    for body, detail in cases:
        resp = await client.post(SERVICES, json=body, headers=ADMIN)
        assert resp.status == 400, body
        assert (await resp.json())["detail"].startswith(detail), await resp.text()


async def test_a_profile_is_created_then_replaced_whole(runtime: Runtime, client: Client) -> None:
    path = f"/api/v1/manage/profiles/{CITIZEN}"
    full = {
        "inbox_enabled": True,
        "push_enabled": False,
        "email": "mario.rossi@example.org",
        "email_validated": True,
        "email_enabled": True,
        "preferences_mode": "LEGACY",
        "blocked_channels": {"svc-1": ["EMAIL", "PUSH"]},
        "reminder_consent": "ENABLED",
        "preferred_languages": ["it_IT", "en_GB"],
    }
    assert await _act(client, "PUT", path, 201, json=full) == {"fiscal_code": CITIZEN, **full}
    replaced = await _act(client, "PUT", path, 200, json={"inbox_enabled": False})
    assert (replaced["email"], replaced["preferences_mode"]) == (None, "AUTO")
    row = await runtime.pool.fetchrow("SELECT * FROM profiles WHERE fiscal_code = $1", CITIZEN)
    assert (row["inbox_enabled"], row["blocked_channels"]) == (False, {})
    await _act(client, "PUT", "/api/v1/manage/profiles/NOTAFISCALCODE00", 400, json={})
    await _act(client, "PUT", path, 400, json={"preferences_mode": "SOMETIMES"})
    await _act(client, "PUT", path, 400, json={"blocked_channels": {"s": ["SMS"]}})
