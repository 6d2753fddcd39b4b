"""Versioned services (docs/integrators/services.md): a live service stays live while an edit is
reviewed, the service card is checked at review, services are listed with filters and paging."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import CARD, create_profile, create_service, message_body
from tests.integration.helpers import ADMIN, drain, session
from tests.integration.sender_helpers import CITIZEN, key
from worker.adapters.postgres import migrations_dir
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services

Client = TestClient[Any, Any]
SERVICES = "/api/v1/manage/services"
ORG = "12345678901"


async def _act(client: Client, method: str, path: str, status: int = 200, **kw: Any) -> Any:
    resp = await client.request(method, path, headers=ADMIN, **kw)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _live_service(client: Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "Tributi", "organization_name": "Comune di Prova"}
    body |= {"organization_fiscal_code": ORG, **CARD, **fields}
    created = await _act(client, "POST", SERVICES, 201, json=body)
    one = f"{SERVICES}/{created['id']}"
    await _act(client, "PUT", f"{one}/review")
    await _act(client, "POST", f"{one}/approve")
    await _act(client, "POST", f"{one}/release")
    return dict(created)


async def _send(client: Client, api_key: str) -> int:
    body = message_body(CITIZEN)
    resp = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    return resp.status


async def _send_advanced(client: Client, api_key: str) -> int:
    body = {**message_body(CITIZEN), "feature_level_type": "ADVANCED"}
    resp = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    return resp.status


async def _inbox_names(client: Client, runtime: Runtime) -> list[str]:
    await drain(runtime)
    resp = await client.get("/api/v1/citizen/messages", headers=await session(client, CITIZEN))
    return [item["service_name"] for item in (await resp.json())["items"]]


async def test_an_edited_live_service_keeps_serving_its_approved_copy_until_the_next_approval(
    runtime: Runtime, client: Client
) -> None:
    await create_profile(runtime, CITIZEN)
    created = await _live_service(client)
    one, api_key = f"{SERVICES}/{created['id']}", created["api_key"]

    edited = await _act(client, "PATCH", one, json={"name": "Tributi e tasse", "premium": True})
    assert (edited["state"], edited["version"], edited["published"]) == ("draft", 2, True)
    assert (edited["name"], edited["publication"]["name"]) == ("Tributi e tasse", "Tributi")
    assert edited["publication"]["version"] == 1
    operational = await _act(client, "PATCH", one, json={"rate_per_second": 50})
    assert (operational["state"], operational["version"]) == ("draft", 2)
    assert operational["rate_per_second"] == 50

    # still live for a citizen outside the authorized recipients, with the approved data
    assert await _send(client, api_key) == 201
    assert await _send_advanced(client, api_key) == 403  # premium is not approved yet
    assert await _inbox_names(client, runtime) == ["Tributi"]

    await _act(client, "PUT", f"{one}/review")
    rejected = await _act(client, "POST", f"{one}/reject", json={"reason": "nome ambiguo"})
    assert (rejected["published"], rejected["publication"]["name"]) == (True, "Tributi")
    assert await _send(client, api_key) == 201

    fixed = await _act(client, "PATCH", one, json={"name": "Tributi e tasse comunali"})
    assert (fixed["state"], fixed["version"]) == ("draft", 2)
    await _act(client, "PUT", f"{one}/review")
    approved = await _act(client, "POST", f"{one}/approve")
    assert approved["publication"]["version"] == 2
    assert approved["publication"]["name"] == "Tributi e tasse comunali"
    assert approved["published"] is True
    assert await _send_advanced(client, api_key) == 201
    assert (await _inbox_names(client, runtime))[0] == "Tributi e tasse comunali"

    read = await _act(client, "GET", one)
    assert read["publication"]["premium"] is True
    unpublished = await _act(client, "DELETE", f"{one}/release")
    assert unpublished["published"] is False
    assert await _send(client, api_key) == 403


async def test_operational_settings_of_a_live_service_apply_at_once_without_review(
    client: Client,
) -> None:
    created = await _live_service(client)
    one = f"{SERVICES}/{created['id']}"
    changes = {
        "rate_per_second": 10,
        "daily_quota": 1000,
        "authorized_cidrs": ["127.0.0.0/8"],
        "callback_url": "http://127.0.0.1:9/hook",
    }
    after = await _act(client, "PATCH", one, json=changes)
    assert (after["state"], after["version"], after["published"]) == ("approved", 1, True)
    assert after["authorized_cidrs"] == ["127.0.0.0/8"]
    assert await _send(client, created["api_key"]) == 201
    same_name = await _act(client, "PATCH", one, json={"name": "Tributi"})
    assert same_name["state"] == "approved"  # nothing changed: no new version


async def test_review_of_an_incomplete_card_answers_422_naming_every_missing_field(
    client: Client,
) -> None:
    body = {"name": "Anagrafe", "organization_name": "Comune", "organization_fiscal_code": ORG}
    created = await _act(client, "POST", SERVICES, 201, json={**body, "description": "corta"})
    assert len(created["card_missing"]) == 4
    one = f"{SERVICES}/{created['id']}"
    resp = await client.put(f"{one}/review", headers=ADMIN)
    assert resp.status == 422
    detail = (await resp.json())["detail"]
    for name in ("description", "privacy_url", "scope", "email, pec, phone, support_url"):
        assert name in detail
    assert (await _act(client, "GET", one))["state"] == "draft"
    await _act(client, "PATCH", one, json={**CARD, "email": None, "phone": "+39 06 1234567"})
    assert (await _act(client, "PUT", f"{one}/review"))["state"] == "submitted"
    # a draft that never got approved reaches only its authorized recipients
    assert await _send(client, created["api_key"]) == 403
    await _act(client, "POST", f"{one}/release", 409)


async def test_bad_card_fields_are_400(client: Client) -> None:
    body = {"name": "A", "organization_name": "B", "organization_fiscal_code": ORG}
    for bad in (
        {"privacy_url": "http://example.org/privacy"},
        {"scope": "REGIONAL"},
        {"email": "not-an-address"},
    ):
        resp = await client.post(SERVICES, json={**body, **bad}, headers=ADMIN)
        assert resp.status == 400, bad
        assert (await resp.json())["detail"].startswith(next(iter(bad))), await resp.text()


async def test_services_are_listed_with_filters_and_cursor_paging(client: Client) -> None:
    base = {"name": "S", "organization_name": "Comune"}
    ids = []
    for n in range(5):
        org = ORG if n % 2 == 0 else "10987654321"
        created = await _act(
            client, "POST", SERVICES, 201, json={**base, **CARD, "organization_fiscal_code": org}
        )
        ids.append(created["id"])
    await _act(client, "PUT", f"{SERVICES}/{ids[0]}/review")

    seen, cursor = [], None
    while True:
        query = {"page_size": "2"} | ({"cursor": cursor} if cursor else {})
        page = await _act(client, "GET", SERVICES, params=query)
        assert len(page["items"]) <= 2
        seen += [s["id"] for s in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == sorted(ids)
    by_org = await _act(client, "GET", SERVICES, params={"organization_fiscal_code": ORG})
    assert [s["id"] for s in by_org["items"]] == sorted(ids[0::2])
    submitted = await _act(client, "GET", SERVICES, params={"state": "submitted"})
    assert [s["id"] for s in submitted["items"]] == [ids[0]]
    assert all("api_key" not in s for s in by_org["items"])
    for bad in ({"state": "live"}, {"page_size": "0"}, {"organization_fiscal_code": "1"}):
        await _act(client, "GET", SERVICES, 400, params=bad)


async def test_the_migration_keeps_an_approved_service_live_with_its_data_as_published_copy(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime, name="Anagrafe", premium=True)
    await runtime.pool.execute("DELETE FROM service_publications")
    migration = migrations_dir() / "0030_service_versions.sql"
    await runtime.pool.execute(migration.read_text())  # idempotent: re-applied to this row

    copy = await runtime.pool.fetchrow(
        "SELECT version, name, premium FROM service_publications WHERE service_id = $1",
        service_id,
    )
    assert copy is not None and tuple(copy) == (1, "Anagrafe", True)
    await reload_services(client.app)
    assert await _send(client, api_key) == 201
    one = f"{SERVICES}/{service_id}"
    edited = await _act(client, "PATCH", one, json={"name": "Anagrafe e stato civile"})
    assert (edited["published"], edited["publication"]["name"]) == (True, "Anagrafe")
    assert await _send(client, api_key) == 201
    # its card predates cards: the next review asks for it
    await _act(client, "PUT", f"{one}/review", 422)
