"""Reports for senders on the real stack: a service's messages by cursor pages (JSON and
CSV), filtered, newest first, without personal data unless asked by fiscal code; and the
daily counts, with read and paid as the sender may learn them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, insert_row, message_body
from tests.integration.citizen_helpers import BASE_TIME, insert_message
from tests.integration.helpers import ADMIN, drain
from tests.integration.sender_helpers import CITIZEN, OTHER, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services
from worker.roles.reminders import settle_round
from worker.services.reports import just_settled

Client = TestClient[Any, Any]
DAY1 = datetime(2026, 1, 10, 23, 30, tzinfo=UTC)
DAY2 = datetime(2026, 1, 11, 0, 30, tzinfo=UTC)


async def _service(runtime: Runtime, client: Client, **fields: Any) -> str:
    service_id, _ = await create_service(runtime, **fields)
    await reload_services(client.app)
    return service_id


async def _notify(runtime: Runtime, message_id: str, channel: str, status: str) -> None:
    """A MESSAGE notification of a stored message, as notify writes it."""
    service_id = await runtime.pool.fetchval(
        "SELECT sender_service_id FROM messages WHERE id = $1", message_id
    )
    await insert_row(
        runtime,
        "notifications",
        {
            "id": f"{message_id}-{channel}",
            "message_id": message_id,
            "sender_service_id": service_id,
            "fiscal_code": CITIZEN,
            "channel": channel,
            "kind": "MESSAGE",
            "status": status,
            "deadline": BASE_TIME + timedelta(days=1),
        },
    )


async def _get(client: Client, url: str, **headers: str) -> Any:
    resp = await client.get(url, headers={**ADMIN, **headers})
    assert resp.status == 200, await resp.text()
    return resp


async def test_the_list_pages_newest_first_with_a_cursor_and_shows_no_personal_data(
    runtime: Runtime, client: Client
) -> None:
    service_id = await _service(runtime, client)
    other_id = await _service(runtime, client)
    ids = [await insert_message(runtime, CITIZEN, service_id) for _ in range(5)]
    await insert_message(runtime, CITIZEN, other_id)
    await _notify(runtime, ids[-1], "PUSH", "SENT")
    await _notify(runtime, ids[-1], "EMAIL", "THROTTLED")
    base = f"/api/v1/manage/services/{service_id}/messages"

    seen: list[str] = []
    url, pages = f"{base}?limit=2", 0
    while url:
        body = await (await _get(client, url)).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        url = f"{base}?limit=2&cursor={body['next']}" if body["next"] else ""
    assert (seen, pages) == (list(reversed(ids)), 3)

    first = (await (await _get(client, base)).json())["items"][0]
    assert first == {
        "id": ids[-1],
        "created_at": first["created_at"],
        "status": "PROCESSED",
        "feature_level_type": "STANDARD",
        "notification": {"push": "SENT", "email": "THROTTLED"},
    }
    assert (await (await _get(client, base)).json())["items"][1]["notification"] == {
        "push": None,
        "email": None,
    }


async def test_filters_narrow_the_list_and_a_fiscal_code_shows_only_when_filtered_by(
    runtime: Runtime, client: Client
) -> None:
    service_id = await _service(runtime, client)
    early = await insert_message(runtime, CITIZEN, service_id, created_at=DAY1)
    rejected = await insert_message(
        runtime,
        OTHER,
        service_id,
        created_at=DAY2,
        status="REJECTED",
        rejection_reason="USER_NOT_FOUND",
    )
    late = await insert_message(runtime, OTHER, service_id, created_at=DAY2 + timedelta(hours=1))
    base = f"/api/v1/manage/services/{service_id}/messages"

    async def ids(query: str) -> list[str]:
        body = await (await _get(client, f"{base}?{query}")).json()
        return [i["id"] for i in body["items"]]

    assert await ids("status=REJECTED") == [rejected]
    assert await ids("since=2026-01-11T00:00:00Z") == [late, rejected]
    assert await ids("until=2026-01-11T00:00:00%2B00:00") == [early]
    assert await ids(f"fiscal_code={OTHER}&status=PROCESSED") == [late]
    filtered = await (await _get(client, f"{base}?fiscal_code={OTHER}")).json()
    assert {i["fiscal_code"] for i in filtered["items"]} == {OTHER}
    assert filtered["items"][1]["rejection_reason"] == "USER_NOT_FOUND"
    unfiltered = await (await _get(client, base)).json()
    assert all("fiscal_code" not in i for i in unfiltered["items"])

    for bad in (
        "limit=0",
        "limit=501",
        "status=ACCEPTED",
        "since=yesterday",
        "since=2026-01-11T00:00:00",
        "fiscal_code=nope",
        "cursor=%25%25",
        "since=2026-01-12T00:00:00Z&until=2026-01-11T00:00:00Z",
    ):
        resp = await client.get(f"{base}?{bad}", headers=ADMIN)
        assert resp.status == 400, bad
        assert resp.content_type == "application/problem+json"


async def test_csv_gives_the_same_rows(runtime: Runtime, client: Client) -> None:
    service_id = await _service(runtime, client)
    ids = [await insert_message(runtime, CITIZEN, service_id) for _ in range(3)]
    await _notify(runtime, ids[0], "PUSH", "FAILED")
    base = f"/api/v1/manage/services/{service_id}/messages?limit=2"
    as_json = await (await _get(client, base)).json()
    resp = await _get(client, base, Accept="text/csv")
    assert resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["id"] for r in rows] == [i["id"] for i in as_json["items"]]
    assert rows[0]["status"] == "PROCESSED"
    assert "fiscal_code" not in rows[0]
    assert f"cursor={as_json['next']}" in resp.headers["Link"]
    last = await _get(client, f"{base}&cursor={as_json['next']}", Accept="text/csv")
    tail = list(csv.DictReader(io.StringIO(await last.text())))
    assert [(r["id"], r["push"]) for r in tail] == [(ids[0], "FAILED")]
    assert "Link" not in last.headers
    by_citizen = await _get(client, f"{base}&fiscal_code={CITIZEN}", Accept="text/csv")
    assert next(csv.DictReader(io.StringIO(await by_citizen.text())))["fiscal_code"] == CITIZEN


async def test_reports_need_the_back_office_and_an_existing_service(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime)
    await reload_services(client.app)
    for path in ("messages", "stats"):
        url = f"/api/v1/manage/services/{service_id}/{path}"
        assert (await client.get(url)).status == 401
        assert (await client.get(url, headers=key(api_key))).status == 401
        missing = await client.get(f"/api/v1/manage/services/nope/{path}", headers=ADMIN)
        assert missing.status == 404


async def test_stats_count_per_utc_day_with_read_and_paid_as_the_sender_may_learn_them(
    runtime: Runtime, client: Client
) -> None:
    service_id = await _service(runtime, client, premium=True)
    read_with_consent = await insert_message(
        runtime,
        CITIZEN,
        service_id,
        created_at=DAY1,
        feature_level_type="ADVANCED",
        is_read=True,
        read_consent=True,
        paid_at=DAY2,
    )
    await insert_message(
        runtime,
        CITIZEN,
        service_id,
        created_at=DAY1,
        feature_level_type="ADVANCED",
        is_read=True,
        read_consent=False,
    )
    await insert_message(
        runtime,
        CITIZEN,
        service_id,
        created_at=DAY1,
        is_read=True,
        read_consent=True,
        paid_at=DAY2,
    )
    await insert_message(
        runtime,
        OTHER,
        service_id,
        created_at=DAY2,
        status="REJECTED",
        rejection_reason="USER_NOT_FOUND",
    )
    await insert_message(
        runtime,
        OTHER,
        service_id,
        created_at=DAY2,
        status="FAILED",
        failure_reason="SERVICE_DELETED",
    )
    await _notify(runtime, read_with_consent, "PUSH", "SENT")
    await _notify(runtime, read_with_consent, "EMAIL", "EXPIRED")
    url = (
        f"/api/v1/manage/services/{service_id}/stats"
        "?since=2026-01-10T00:00:00Z&until=2026-01-12T00:00:00Z"
    )
    body = await (await _get(client, url)).json()
    day1, day2 = body["days"]
    assert day1 == {
        "day": "2026-01-10",
        "total": 3,
        "status": {"PROCESSED": 3},
        "rejection_reason": {},
        "failure_reason": {},
        "notification": {"push": {"SENT": 1}, "email": {"EXPIRED": 1}},
        "read": 1,
        "paid": 1,
    }
    assert (day2["day"], day2["total"], day2["read"], day2["paid"]) == ("2026-01-11", 2, 0, 0)
    assert day2["status"] == {"REJECTED": 1, "FAILED": 1}
    assert day2["rejection_reason"] == {"USER_NOT_FOUND": 1}
    assert day2["failure_reason"] == {"SERVICE_DELETED": 1}
    for bad in (
        "since=2025-01-01T00:00:00Z",
        "until=x",
        "since=2026-01-12T00:00:00Z&until=2026-01-11T00:00:00Z",
    ):
        resp = await client.get(f"/api/v1/manage/services/{service_id}/stats?{bad}", headers=ADMIN)
        assert resp.status == 400, bad


async def test_messages_sent_through_the_pipeline_are_listed_and_counted(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key = await create_service(runtime)
    await reload_services(client.app)
    await create_profile(runtime, CITIZEN)
    sent = []
    for fiscal_code in (CITIZEN, OTHER):
        resp = await client.post(
            "/api/v1/messages", json=message_body(fiscal_code), headers=key(api_key)
        )
        assert resp.status == 201, await resp.text()
        sent.append((await resp.json())["id"])
    await drain(runtime)
    listed = await (await _get(client, f"/api/v1/manage/services/{service_id}/messages")).json()
    statuses = {i["id"]: (i["status"], i.get("rejection_reason")) for i in listed["items"]}
    assert statuses == {sent[0]: ("PROCESSED", None), sent[1]: ("REJECTED", "USER_NOT_FOUND")}
    stats = await (await _get(client, f"/api/v1/manage/services/{service_id}/stats")).json()
    assert [(d["total"], d["status"]) for d in stats["days"]] == [
        (2, {"PROCESSED": 1, "REJECTED": 1})
    ]


async def test_a_settled_day_is_counted_once_while_read_and_paid_stay_live(
    runtime: Runtime, client: Client
) -> None:
    service_id = await _service(runtime, client, premium=True)
    message_id = await insert_message(
        runtime, CITIZEN, service_id, created_at=DAY1, feature_level_type="ADVANCED"
    )
    url = (
        f"/api/v1/manage/services/{service_id}/stats"
        "?since=2026-01-10T00:00:00Z&until=2026-01-11T00:00:00Z"
    )
    first = (await (await _get(client, url)).json())["days"]
    assert [(d["status"], d["read"]) for d in first] == [({"PROCESSED": 1}, 0)]
    kept = await runtime.pool.fetchval(
        "SELECT counts FROM service_day_counts WHERE service_id = $1", service_id
    )
    assert kept["total"] == 1
    # Past the day's settling nothing changes a status; a change here shows it is kept.
    await runtime.pool.execute(
        "UPDATE messages SET status = 'FAILED', is_read = true, read_consent = true WHERE id = $1",
        message_id,
    )
    again = (await (await _get(client, url)).json())["days"]
    assert [(d["status"], d["read"]) for d in again] == [({"PROCESSED": 1}, 1)]


async def test_the_day_that_just_settled_is_counted_ahead_for_every_sender(
    runtime: Runtime, client: Client
) -> None:
    now = datetime.now(UTC)
    day = just_settled(now)
    noon = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    senders = [await _service(runtime, client) for _ in range(2)]
    for service_id in senders:
        await insert_message(runtime, CITIZEN, service_id, created_at=noon)
    quiet = await _service(runtime, client)

    assert await settle_round(runtime, now) == 2
    kept = await runtime.pool.fetch("SELECT service_id, day, counts FROM service_day_counts")
    assert sorted((r["service_id"], r["day"], r["counts"]["total"]) for r in kept) == sorted(
        (s, day, 1) for s in senders
    )
    assert quiet not in {r["service_id"] for r in kept}
    assert await settle_round(runtime, now) == 0  # kept already
