"""The citizen app API over the real app and PostgreSQL: sessions, inbox, one message,
archive, profile and preferences, and that a citizen only ever reaches their own data."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service
from tests.integration.citizen_helpers import inbox_with_one_message, insert_message
from tests.integration.helpers import ADMIN, session
from worker.bootstrap import Runtime
from worker.ingress import citizen_views as views
from worker.ingress import openapi

CITIZEN = "RSSMRA80A01H501U"
OTHER = "VRDGPP80A01H501X"


async def test_a_session_needs_the_admin_token_and_an_existing_profile(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    await create_profile(runtime, CITIZEN)
    url = f"/api/v1/manage/profiles/{CITIZEN}/sessions"
    assert (await client.post(url)).status == 401
    assert (await client.post(url, headers={"Authorization": "Bearer nope"})).status == 401
    missing = await client.post(f"/api/v1/manage/profiles/{OTHER}/sessions", headers=ADMIN)
    assert missing.status == 404
    resp = await client.post(url, headers=ADMIN)
    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"token", "expires_at"}
    stored = await runtime.pool.fetchval("SELECT count(*) FROM citizen_sessions")
    assert stored == 1
    in_clear = await runtime.pool.fetchval(
        "SELECT count(*) FROM citizen_sessions WHERE token_hash = $1", body["token"].encode()
    )
    assert in_clear == 0


async def test_app_routes_refuse_a_missing_unknown_or_expired_session(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    await create_profile(runtime, CITIZEN)
    headers = await session(client, CITIZEN)
    assert (await client.get("/api/v1/citizen/messages")).status == 401
    wrong = {"Authorization": "Bearer not-a-session"}
    assert (await client.get("/api/v1/citizen/profile", headers=wrong)).status == 401
    assert (await client.get("/api/v1/citizen/profile", headers=ADMIN)).status == 401
    assert (await client.get("/api/v1/citizen/profile", headers=headers)).status == 200
    await runtime.pool.execute("UPDATE citizen_sessions SET expires_at = now() - interval '1s'")
    assert (await client.get("/api/v1/citizen/profile", headers=headers)).status == 401


async def test_the_inbox_pages_newest_first_with_a_cursor_and_hides_others(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    mine = [await insert_message(runtime, CITIZEN, service_id) for _ in range(5)]
    await insert_message(runtime, OTHER, service_id)
    await insert_message(runtime, CITIZEN, service_id, status="REJECTED")
    headers = await session(client, CITIZEN)

    seen: list[str] = []
    url = "/api/v1/citizen/messages?page_size=2"
    pages = 0
    while url:
        resp = await client.get(url, headers=headers)
        assert resp.status == 200
        body = await resp.json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        url = f"/api/v1/citizen/messages?page_size=2&cursor={body['next']}" if body["next"] else ""
    assert seen == list(reversed(mine))
    assert pages == 3
    first = (await (await client.get("/api/v1/citizen/messages", headers=headers)).json())["items"]
    assert first[0]["subject"].startswith("Avviso numero")
    assert first[0]["service_name"].startswith("Servizio")
    assert "content" not in first[0]


async def test_page_size_and_cursor_are_validated(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    await create_profile(runtime, CITIZEN)
    headers = await session(client, CITIZEN)
    for query in ("page_size=0", "page_size=101", "page_size=x", "cursor=%25%25", "archived=maybe"):
        resp = await client.get(f"/api/v1/citizen/messages?{query}", headers=headers)
        assert resp.status == 400, query
        assert resp.content_type == "application/problem+json"
    ok = await client.get("/api/v1/citizen/messages?page_size=100", headers=headers)
    assert ok.status == 200


async def test_archiving_moves_a_message_between_the_inbox_and_the_archive(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    kept = await insert_message(runtime, CITIZEN, service_id)
    archived = await insert_message(runtime, CITIZEN, service_id)
    headers = await session(client, CITIZEN)

    resp = await client.put(
        f"/api/v1/citizen/messages/{archived}/message-status",
        json={"change_type": "archiving", "is_archived": True},
        headers=headers,
    )
    assert resp.status == 200
    assert (await resp.json())["is_archived"] is True
    inbox = await (await client.get("/api/v1/citizen/messages", headers=headers)).json()
    archive = await (
        await client.get("/api/v1/citizen/messages?archived=true", headers=headers)
    ).json()
    assert [i["id"] for i in inbox["items"]] == [kept]
    assert [i["id"] for i in archive["items"]] == [archived]

    back = await client.put(
        f"/api/v1/citizen/messages/{archived}/message-status",
        json={"change_type": "archiving", "is_archived": False},
        headers=headers,
    )
    assert (await back.json())["is_archived"] is False


async def test_one_message_comes_with_its_content(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, headers = await inbox_with_one_message(runtime, client, CITIZEN)
    resp = await client.get(f"/api/v1/citizen/messages/{message_id}", headers=headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["id"] == message_id
    assert len(body["content"]["markdown"]) >= 80
    assert body["is_read"] is False


async def test_a_citizen_cannot_see_or_change_another_citizens_messages(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await create_profile(runtime, OTHER)
    theirs = await insert_message(runtime, OTHER, service_id)
    headers = await session(client, CITIZEN)

    assert (await client.get(f"/api/v1/citizen/messages/{theirs}", headers=headers)).status == 404
    for change in (
        {"change_type": "reading", "is_read": True},
        {"change_type": "archiving", "is_archived": True},
        {"change_type": "bulk", "is_read": True, "is_archived": True},
    ):
        resp = await client.put(
            f"/api/v1/citizen/messages/{theirs}/message-status", json=change, headers=headers
        )
        assert resp.status == 404
    row = await runtime.pool.fetchrow(
        "SELECT is_read, is_archived, status_seq FROM messages WHERE id = $1", theirs
    )
    assert dict(row) == {"is_read": False, "is_archived": False, "status_seq": 1}
    inbox = await (await client.get("/api/v1/citizen/messages", headers=headers)).json()
    assert inbox["items"] == []


async def test_a_citizen_reads_and_patches_only_their_own_profile(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    await create_profile(runtime, CITIZEN, email="mario@example.org")
    await create_profile(runtime, OTHER)
    headers = await session(client, CITIZEN)

    profile = await (await client.get("/api/v1/citizen/profile", headers=headers)).json()
    assert profile["fiscal_code"] == CITIZEN
    assert profile["reminder_consent"] == "UNSET"

    patch = {"reminder_consent": "ENABLED", "push_enabled": False, "preferences_mode": "MANUAL"}
    resp = await client.patch("/api/v1/citizen/profile", json=patch, headers=headers)
    assert resp.status == 200
    body = await resp.json()
    assert (body["reminder_consent"], body["push_enabled"], body["preferences_mode"]) == (
        "ENABLED",
        False,
        "MANUAL",
    )
    assert body["email"] == "mario@example.org"
    other = await runtime.pool.fetchrow(
        "SELECT reminder_consent, push_enabled FROM profiles WHERE fiscal_code = $1", OTHER
    )
    assert dict(other) == {"reminder_consent": "UNSET", "push_enabled": True}

    for bad in ({"reminder_consent": "MAYBE"}, {"preferences_mode": "X"}, {"email": "a@b.c"}):
        bad_resp = await client.patch("/api/v1/citizen/profile", json=bad, headers=headers)
        assert bad_resp.status == 400, bad


async def test_service_preferences_follow_the_profile_mode(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    headers = await session(client, CITIZEN)
    url = f"/api/v1/citizen/services/{service_id}/preferences"

    default = await (await client.get(url, headers=headers)).json()
    assert default["is_inbox_enabled"] is True
    wanted = {
        "is_inbox_enabled": False,
        "is_push_enabled": True,
        "is_email_enabled": False,
        "can_access_message_read_status": False,
    }
    resp = await client.put(url, json=wanted, headers=headers)
    assert resp.status == 200
    assert await (await client.get(url, headers=headers)).json() == {
        "service_id": service_id,
        **wanted,
    }
    stored = await runtime.pool.fetchval(
        "SELECT is_inbox_enabled FROM service_preferences WHERE fiscal_code = $1", CITIZEN
    )
    assert stored is False
    bad = await client.put(url, json={"is_inbox_enabled": "no"}, headers=headers)
    assert bad.status == 400
    missing = "/api/v1/citizen/services/no-such-service/preferences"
    assert (await client.get(missing, headers=headers)).status == 404


async def test_manual_mode_blocks_by_default_and_legacy_mode_refuses_a_put(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN, preferences_mode="MANUAL")
    await create_profile(
        runtime, OTHER, preferences_mode="LEGACY", blocked_channels={service_id: ["EMAIL"]}
    )
    url = f"/api/v1/citizen/services/{service_id}/preferences"
    manual = await (await client.get(url, headers=await session(client, CITIZEN))).json()
    assert manual["is_inbox_enabled"] is False

    legacy_headers = await session(client, OTHER)
    legacy = await (await client.get(url, headers=legacy_headers)).json()
    assert (legacy["is_inbox_enabled"], legacy["is_email_enabled"]) == (True, False)
    body = {
        "is_inbox_enabled": True,
        "is_push_enabled": True,
        "is_email_enabled": True,
        "can_access_message_read_status": True,
    }
    assert (await client.put(url, json=body, headers=legacy_headers)).status == 409


async def test_the_answers_match_the_documented_openapi_shapes(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    message_id = await insert_message(runtime, CITIZEN, service_id)
    resp = await client.post(f"/api/v1/manage/profiles/{CITIZEN}/sessions", headers=ADMIN)
    session_view = msgspec.json.decode(await resp.read(), type=views.SessionView)
    headers = {"Authorization": f"Bearer {session_view.token}"}
    answers = {
        "/api/v1/citizen/messages": views.InboxPageView,
        f"/api/v1/citizen/messages/{message_id}": views.CitizenMessageView,
        "/api/v1/citizen/profile": views.CitizenProfileView,
        f"/api/v1/citizen/services/{service_id}/preferences": views.PreferenceView,
    }
    for url, shape in answers.items():
        body = await (await client.get(url, headers=headers)).read()
        msgspec.json.decode(body, type=shape, strict=True)
    documented = {path for path in openapi.document()["paths"] if "/citizen/" in path}
    # the citizen API (five), its third-party routes (three), the service catalogue (two),
    # the citizen's export (one)
    assert len(documented) == 11
