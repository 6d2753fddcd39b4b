"""What citizens see of services: the published services with their
card, IO topic and logo, each with the citizen's own preference; filters by topic and
scope; cursor pages; one service by id."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import CARD, create_profile, create_service
from tests.integration.helpers import ADMIN, session
from tests.integration.logo_helpers import b64, png
from tests.integration.sender_helpers import CITIZEN
from worker.bootstrap import Runtime

Client = TestClient[Any, Any]
LIST = "/api/v1/citizen/services"


async def _catalogue(runtime: Runtime) -> dict[str, str]:
    """Three published services (two LOCAL on taxes, one NATIONAL on health) and one
    unpublished; ids in this order."""
    ids = {}
    for label, topic_id, scope in (
        ("tari", 10, "LOCAL"),
        ("imu", 10, "LOCAL"),
        ("ricette", 17, "NATIONAL"),
    ):
        ids[label], _ = await create_service(
            runtime, id=f"svc-{len(ids)}-{label}", **{**CARD, "scope": scope}, topic_id=topic_id
        )
    ids["draft"], _ = await create_service(
        runtime, id="svc-9-draft", published=False, state="draft"
    )
    return ids


async def _get(client: Client, url: str, headers: dict[str, str]) -> Any:
    resp = await client.get(url, headers=headers)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_a_citizen_sees_published_services_with_card_topic_logo_and_own_preference(
    runtime: Runtime, client: Client
) -> None:
    ids = await _catalogue(runtime)
    await create_profile(runtime, CITIZEN)
    headers = await session(client, CITIZEN)
    logo = {"logo": b64(png(300, 300))}
    await client.put("/api/v1/organizations/12345678901/logo", json=logo, headers=ADMIN)
    off = {
        "is_inbox_enabled": False,
        "is_push_enabled": False,
        "is_email_enabled": False,
        "can_access_message_read_status": False,
    }
    put = await client.put(f"{LIST}/{ids['imu']}/preferences", json=off, headers=headers)
    assert put.status == 200, await put.text()

    page = await _get(client, LIST, headers)
    assert [s["id"] for s in page["items"]] == [ids["tari"], ids["imu"], ids["ricette"]]
    tari = page["items"][0]
    assert tari["organization"] == {"name": "Comune di Prova", "fiscal_code": "12345678901"}
    assert tari["description"] == CARD["description"]
    assert tari["metadata"]["topic"] == {"id": 10, "name": "Redditi, patrimoni e fisco"}
    assert (tari["metadata"]["scope"], tari["metadata"]["email"]) == ("LOCAL", CARD["email"])
    assert tari["logo_url"] == f"/api/v1/logos/services/{ids['tari']}"
    assert (await client.get(tari["logo_url"])).status == 200
    assert tari["preferences"]["is_inbox_enabled"] is True
    assert page["items"][1]["preferences"] == {"service_id": ids["imu"], **off}

    one = await _get(client, f"{LIST}/{ids['ricette']}", headers)
    assert one["metadata"]["topic"]["name"] == "Salute"
    assert (await client.get(f"{LIST}/{ids['draft']}", headers=headers)).status == 404


async def test_the_catalogue_filters_by_topic_and_scope_and_pages_by_cursor(
    runtime: Runtime, client: Client
) -> None:
    ids = await _catalogue(runtime)
    await create_profile(runtime, CITIZEN, preferences_mode="MANUAL")
    headers = await session(client, CITIZEN)
    health = await _get(client, f"{LIST}?topic_id=17", headers)
    assert [s["id"] for s in health["items"]] == [ids["ricette"]]
    assert health["items"][0]["preferences"]["is_inbox_enabled"] is False  # MANUAL: opt in
    local = await _get(client, f"{LIST}?scope=LOCAL&page_size=1", headers)
    assert ([s["id"] for s in local["items"]], local["next"] is not None) == ([ids["tari"]], True)
    rest = await _get(client, f"{LIST}?scope=LOCAL&page_size=1&cursor={local['next']}", headers)
    assert ([s["id"] for s in rest["items"]], rest["next"]) == ([ids["imu"]], None)
    for bad in ("topic_id=99", "topic_id=x", "scope=REGIONAL", "cursor=%%%", "page_size=0"):
        assert (await client.get(f"{LIST}?{bad}", headers=headers)).status == 400, bad
    assert (await client.get(LIST)).status == 401
