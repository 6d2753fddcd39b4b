"""IO's CMS API with a body's manage key, on the real stack (docs/integrators/services.md)."""

from __future__ import annotations

from devkit.dev import DEMO_MANAGE_KEY, DEMO_SERVICE_ID, seed_demo
from tests.factories import message_body
from tests.integration.cms_helpers import (
    BODY,
    CMS,
    OTHER_BODY,
    Client,
    body_with_key,
    call,
    logo,
    payload,
)
from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import CITIZEN, SANDBOX, key
from worker.bootstrap import Runtime


async def test_a_service_lives_its_whole_life_through_io_s_payloads(
    runtime: Runtime, client: Client
) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one = f"{CMS}/{created['id']}"
    assert created["status"] == {"value": "draft"}
    # the body is the key's, whatever the payload said; its name the registered one
    assert created["organization"] == {"name": "Comune di Prova", "fiscal_code": BODY}
    assert created["metadata"]["topic"] == {"id": 10, "name": "Redditi, patrimoni e fisco"}
    assert len(created["primary_key"]) == 32 and created["secondary_key"] != created["primary_key"]
    assert "primary_key" not in await call(client, "GET", one, manage, 200)

    edited = await call(client, "PUT", one, manage, 200, json=payload(name="Tributi e tasse"))
    assert (edited["name"], edited["status"]["value"]) == ("Tributi e tasse", "draft")
    await call(client, "PUT", f"{one}/review", manage, 204, json={"auto_publish": False})
    assert (await call(client, "GET", one, manage, 200))["status"]["value"] == "submitted"
    await call(client, "PUT", one, manage, 409, json=payload())  # frozen while in review
    await call(client, "GET", f"{one}/release", manage, 404)  # never approved: no publication

    await call(client, "POST", f"/api/v1/admin/services/{created['id']}/approve", ADMIN, 200)
    await call(client, "POST", f"{one}/release", manage, 204)
    published = await call(client, "GET", f"{one}/release", manage, 200)
    assert (published["status"], published["name"]) == ("published", "Tributi e tasse")
    # the service's own key now reaches every citizen
    sender = key(created["primary_key"])
    resp = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=sender)
    assert resp.status == 201, await resp.text()

    await call(client, "DELETE", f"{one}/release", manage, 204)
    assert (await call(client, "GET", f"{one}/release", manage, 200))["status"] == "unpublished"

    history = await call(client, "GET", f"{one}/history?order=ASC&limit=100", manage, 200)
    steps = [(i["action"], i["status"]["kind"], i["status"]["value"]) for i in history["items"]]
    assert steps == [
        ("create", "lifecycle", "draft"),
        ("edit", "lifecycle", "draft"),
        ("submit", "lifecycle", "submitted"),
        ("approve", "lifecycle", "approved"),
        ("notice_review_approved", "lifecycle", "approved"),
        ("publish", "publication", "published"),
        ("unpublish", "publication", "unpublished"),
        ("notice_unpublished", "lifecycle", "approved"),
    ]
    actors = {i["action"]: i["actor"] for i in history["items"]}
    assert actors["approve"] == {"kind": "admin"}
    assert actors["create"]["kind"] == "manage_key" and actors["create"]["id"]
    assert history["items"][1]["name"] == "Tributi e tasse"


async def test_history_pages_with_io_s_continuation_token(client: Client) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one = f"{CMS}/{created['id']}"
    for n in range(3):
        await call(client, "PUT", one, manage, 200, json=payload(name=f"Tributi {n}"))
    first = await call(client, "GET", f"{one}/history?limit=2", manage, 200)
    assert [i["name"] for i in first["items"]] == ["Tributi 2", "Tributi 1"]
    token = first["continuationToken"]
    rest = await call(
        client, "GET", f"{one}/history?limit=2&continuationToken={token}", manage, 200
    )
    assert [i["name"] for i in rest["items"]] == ["Tributi 0", "Tributi"]
    assert "continuationToken" not in rest  # the last page


async def test_another_body_s_manage_key_finds_nothing_there(client: Client) -> None:
    mine = await body_with_key(client)
    theirs = await body_with_key(client, OTHER_BODY)
    created = await call(client, "POST", CMS, mine, 201, json=payload())
    one = f"{CMS}/{created['id']}"
    for method, path, body in (
        ("GET", one, None),
        ("PUT", one, payload()),
        ("DELETE", one, None),
        ("PUT", f"{one}/review", {"auto_publish": True}),
        ("POST", f"{one}/release", None),
        ("GET", f"{one}/release", None),
        ("DELETE", f"{one}/release", None),
        ("GET", f"{one}/history", None),
        ("GET", f"{one}/keys", None),
        ("PUT", f"{one}/keys/primary", None),
        ("PUT", f"{one}/logo", logo()),
    ):
        problem = await call(client, method, path, theirs, 404, json=body)
        assert problem["detail"] == "no such service", (method, path)
    assert (await call(client, "GET", CMS, theirs, 200))["value"] == []
    listed = await call(client, "GET", f"{CMS}?limit=10&offset=0", mine, 200)
    assert [s["id"] for s in listed["value"]] == [created["id"]]
    assert listed["pagination"] == {"offset": 0, "limit": 10, "count": 1}


async def test_a_manage_key_cannot_review_and_the_admin_can(client: Client) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one, admin_one = f"{CMS}/{created['id']}", f"/api/v1/admin/services/{created['id']}"
    await call(client, "PUT", f"{one}/review", manage, 204, json={"auto_publish": True})
    await call(client, "POST", f"{one}/approve", manage, 403)
    await call(client, "POST", f"{one}/reject", manage, 403, json={"reason": "no"})
    rejected = await call(client, "POST", f"{admin_one}/reject", ADMIN, 200, json={"reason": "x"})
    assert rejected["state"] == "rejected"
    read = await call(client, "GET", one, manage, 200)
    assert read["status"] == {"value": "rejected", "reason": "x"}
    await call(client, "PUT", one, manage, 200, json=payload(name="Tributi corretti"))
    await call(client, "PUT", f"{one}/review", manage, 204, json={"auto_publish": True})
    await call(client, "POST", f"{admin_one}/approve", ADMIN, 200)
    # auto_publish: approval published it
    assert (await call(client, "GET", f"{one}/release", manage, 200))["status"] == "published"


async def test_manage_keys_rotate_two_at_a_time_and_a_revoked_one_stops_at_once(
    client: Client,
) -> None:
    from tests.integration.cms_helpers import issue_key, register

    await register(client)
    first, second = await issue_key(client), await issue_key(client)
    keys = f"/api/v1/admin/organizations/{BODY}/manage-keys"
    await call(client, "POST", keys, ADMIN, 409)
    await call(client, "GET", CMS, key(first["key"]), 200)
    revoked = await call(client, "DELETE", f"{keys}/{first['id']}", ADMIN, 200)
    assert revoked["revoked_at"]
    await call(client, "GET", CMS, key(first["key"]), 401)
    await call(client, "GET", CMS, key(second["key"]), 200)
    await issue_key(client)  # a slot is free again
    listed = await call(client, "GET", "/api/v1/admin/organizations", ADMIN, 200)
    [org] = listed["items"]
    assert len(org["manage_keys"]) == 3
    assert all(set(k) <= {"id", "created_at", "revoked_at"} for k in org["manage_keys"])
    await call(client, "POST", "/api/v1/admin/organizations", ADMIN, 409, json={
        "fiscal_code": BODY, "name": "Comune di Prova", "email": "urp@example.org"})  # fmt: skip


async def test_service_keys_regenerate_one_at_a_time_and_are_never_read_back(
    client: Client,
) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one = f"{CMS}/{created['id']}"
    await call(client, "GET", f"{one}/keys", manage, 403)
    keys = await call(client, "PUT", f"{one}/keys/secondary", manage, 200)
    assert keys["primary_key"] == "" and len(keys["secondary_key"]) == 32
    await call(client, "PUT", f"{one}/keys/tertiary", manage, 400)
    body = message_body(SANDBOX)
    for api_key, status in (
        (keys["secondary_key"], 201),
        (created["primary_key"], 201),
        (created["secondary_key"], 401),
    ):
        resp = await client.post("/api/v1/messages", json=body, headers=key(api_key))
        assert resp.status == status, api_key


async def test_payloads_and_logos_are_checked(runtime: Runtime, client: Client) -> None:
    manage = await body_with_key(client)
    bad_topic = payload(metadata={"topic_id": 99})
    assert "topic_id" in (await call(client, "POST", CMS, manage, 400, json=bad_topic))["detail"]
    no_scope = payload()
    del no_scope["metadata"]["scope"]
    await call(client, "POST", CMS, manage, 400, json=no_scope)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one = f"{CMS}/{created['id']}"
    await call(client, "PUT", f"{one}/logo", manage, 204, json=logo())
    stored = await runtime.pool.fetchval("SELECT length(png) FROM logos WHERE kind = 'service'")
    assert stored > 0
    for bad in (logo(b"GIF89a not a png"), {"logo": "%%%"}):
        await call(client, "PUT", f"{one}/logo", manage, 400, json=bad)
    topics = await call(client, "GET", f"{CMS}/topics", manage, 200)
    assert {"id": 0, "name": "Altro"} in topics["topics"]
    assert (await call(client, "GET", f"{CMS}/topics", ADMIN, 200)) == topics
    await call(client, "GET", f"{CMS}/topics", key("nobody"), 401)


async def test_the_dev_demo_body_s_manage_key_sees_the_demo_service(
    runtime: Runtime, client: Client
) -> None:
    await seed_demo(runtime)
    await seed_demo(runtime)  # idempotent
    listed = await call(client, "GET", CMS, key(DEMO_MANAGE_KEY), 200)
    assert [s["id"] for s in listed["value"]] == [DEMO_SERVICE_ID]
    assert listed["value"][0]["status"]["value"] == "approved"
