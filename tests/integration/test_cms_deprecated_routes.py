"""Section 6's old back-office paths keep answering the admin token, marked deprecated."""

from __future__ import annotations

from tests.factories import CARD
from tests.integration.cms_helpers import CMS, Client, body_with_key, call, payload
from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import CITIZEN

OLD = {
    "name": "Tributi",
    "organization_name": "Comune di Prova",
    "organization_fiscal_code": "12345678901",
    **CARD,
}


async def test_old_paths_answer_the_admin_with_old_payloads_and_a_deprecation_header(
    client: Client,
) -> None:
    resp = await client.post(CMS, json=OLD, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    assert resp.headers["Deprecation"].startswith("@")
    created = await resp.json()
    assert (created["state"], created["organization_name"]) == ("draft", "Comune di Prova")
    one = f"{CMS}/{created['id']}"
    resp = await client.patch(one, json={"name": "Tributi 2"}, headers=ADMIN)
    assert resp.status == 200 and "Deprecation" in resp.headers
    assert (
        resp.headers["Link"] == f'</api/v1/admin/services/{created["id"]}>; rel="successor-version"'
    )
    resp = await client.put(f"{one}/review", headers=ADMIN)
    assert (await resp.json())["state"] == "submitted" and "Deprecation" in resp.headers
    resp = await client.put(f"/api/v1/manage/profiles/{CITIZEN}", json={}, headers=ADMIN)
    assert resp.status == 201 and "Deprecation" in resp.headers
    resp = await client.post(f"/api/v1/manage/profiles/{CITIZEN}/sessions", headers=ADMIN)
    assert resp.status == 201 and "Deprecation" in resp.headers


async def test_the_admin_routes_are_the_same_operations_without_the_header(
    client: Client,
) -> None:
    admin = "/api/v1/admin/services"
    resp = await client.post(admin, json=OLD, headers=ADMIN)
    assert resp.status == 201 and "Deprecation" not in resp.headers
    created = await resp.json()
    listed = await call(client, "GET", f"{admin}?organization_fiscal_code=12345678901", ADMIN, 200)
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    resp = await client.put(f"/api/v1/admin/profiles/{CITIZEN}", json={}, headers=ADMIN)
    assert resp.status == 201 and "Deprecation" not in resp.headers
    history = await call(client, "GET", f"{admin}/{created['id']}/history?order=ASC", ADMIN, 200)
    assert [(i["action"], i["actor"]) for i in history["items"]] == [("create", {"kind": "admin"})]


async def test_a_body_s_service_shows_in_the_admin_list_in_section_6_payloads(
    client: Client,
) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    view = await call(client, "GET", f"/api/v1/admin/services/{created['id']}", ADMIN, 200)
    assert (view["organization_fiscal_code"], view["state"]) == ("12345678901", "draft")
    assert view["card_missing"] == []
