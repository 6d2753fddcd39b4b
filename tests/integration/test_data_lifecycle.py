"""The data lifecycle on the real stack: content retention by the reminders process's
eraser (batched, rows in use skipped), a citizen's export, and a citizen's erasure,
after which their fiscal code is in no table at all."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.factories import create_profile, create_service, insert_row, message_body
from tests.integration.citizen_helpers import insert_message
from tests.integration.helpers import ADMIN, drain, session
from tests.integration.sender_helpers import CITIZEN, OTHER, key
from worker.adapters.lifecycle_repo import PostgresLifecycle
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services
from worker.roles.reminders import ReminderProcess
from worker.services.retention import erase_expired
from worker.services.subscriptions import PROFILE, fiscal_code_hash

Client = TestClient[Any, Any]
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)
MIGRATIONS = Path(__file__).resolve().parents[2] / "deploy" / "migrations"
_TABLE_DDL = re.compile(r"(CREATE|DROP) TABLE (?:IF NOT EXISTS |IF EXISTS )?(\w+)", re.IGNORECASE)
_ROW = "SELECT * FROM messages WHERE id = $1"


async def _notification(runtime: Runtime, message_id: str, status: str = "SENT") -> None:
    await insert_row(
        runtime,
        "notifications",
        {
            "id": f"{message_id}-PUSH",
            "message_id": message_id,
            "fiscal_code": CITIZEN,
            "channel": "PUSH",
            "kind": "MESSAGE",
            "status": status,
            "deadline": NOW,
        },
    )


def _with_batch(runtime: Runtime, size: int) -> Runtime:
    retention = replace(runtime.settings.retention, batch_size=size)
    return replace(runtime, settings=replace(runtime.settings, retention=retention))


async def test_the_eraser_clears_content_past_retention_and_keeps_ids_dates_and_statuses(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    payment = {"amount": 100, "notice_number": "012345678901234567"}
    old = [
        await insert_message(
            runtime,
            CITIZEN,
            service_id,
            created_at=OLD + timedelta(minutes=i),
            content={"subject": "Avviso numero 1", "markdown": "x" * 80, "payment_data": payment},
            rpt_id="12345678901012345678901234567",
            is_read=True,
            read_at=OLD,
        )
        for i in range(5)
    ]
    await _notification(runtime, old[0], status="THROTTLED")
    recent = await insert_message(runtime, CITIZEN, service_id, created_at=RECENT)
    settings = _with_batch(runtime, 2).settings.retention

    erased = await erase_expired(PostgresLifecycle(runtime.pool), settings, NOW)

    assert erased == 5
    for message_id in old:
        row = await runtime.pool.fetchrow(_ROW, message_id)
        assert (row["content"], row["fiscal_code"], row["rpt_id"]) == ({}, None, None)
        assert (row["id"], row["sender_service_id"], row["status"], row["is_read"]) == (
            message_id,
            service_id,
            "PROCESSED",
            True,
        )
        assert row["created_at"] is not None and row["read_at"] == OLD
        assert row["content_erased_at"] is not None
    notification = await runtime.pool.fetchrow(
        "SELECT fiscal_code, status FROM notifications WHERE message_id = $1", old[0]
    )
    assert dict(notification) == {"fiscal_code": None, "status": "FAILED"}
    kept = await runtime.pool.fetchrow(_ROW, recent)
    assert kept["fiscal_code"] == CITIZEN and kept["content"]["subject"]
    assert await erase_expired(PostgresLifecycle(runtime.pool), settings, NOW) == 0


async def test_the_eraser_skips_rows_in_use_and_takes_them_on_the_next_pass(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    busy, free = (
        await insert_message(runtime, CITIZEN, service_id, created_at=OLD),
        await insert_message(runtime, CITIZEN, service_id, created_at=OLD + timedelta(seconds=1)),
    )
    store = PostgresLifecycle(runtime.pool)
    settings = runtime.settings.retention
    async with runtime.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", busy)
        # Not waiting for the lock: the pass ends at once, with the other row erased.
        assert await asyncio.wait_for(erase_expired(store, settings, NOW), timeout=5) == 1
    assert (await runtime.pool.fetchrow(_ROW, free))["content"] == {}
    assert (await runtime.pool.fetchrow(_ROW, busy))["content"] != {}
    assert await erase_expired(store, settings, NOW) == 1
    assert (await runtime.pool.fetchrow(_ROW, busy))["content"] == {}


async def test_the_active_reminders_process_runs_the_eraser_after_its_rounds(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    message_id = await insert_message(
        runtime, CITIZEN, service_id, created_at=datetime.now(UTC) - timedelta(days=400)
    )
    fast = replace(runtime.settings.reminders, interval_seconds=0.05, standby_poll_seconds=0.05)
    process = ReminderProcess(replace(runtime, settings=replace(runtime.settings, reminders=fast)))
    stop = asyncio.Event()
    task = asyncio.create_task(process.run(stop))
    try:

        async def content() -> Any:
            return (await runtime.pool.fetchrow(_ROW, message_id))["content"]

        assert await eventually(content, lambda c: c == {}) == {}
    finally:
        stop.set()
        await task


async def test_the_export_holds_everything_about_the_citizen_and_nothing_about_others(
    runtime: Runtime, client: Client
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN, email="mario@example.org")
    await create_profile(runtime, OTHER)
    await insert_row(
        runtime,
        "service_preferences",
        {"fiscal_code": CITIZEN, "service_id": service_id, "is_email_enabled": False},
    )
    mine = await insert_message(runtime, CITIZEN, service_id)
    rejected = await insert_message(
        runtime, CITIZEN, service_id, status="REJECTED", rejection_reason="SERVICE_NOT_ALLOWED"
    )
    await insert_message(runtime, OTHER, service_id)
    await _notification(runtime, mine)
    headers = await session(client, CITIZEN)

    resp = await client.get("/api/v1/citizen/export", headers=headers)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["fiscal_code"] == CITIZEN
    assert body["profile"]["email"] == "mario@example.org"
    assert [p["service_id"] for p in body["service_preferences"]] == [service_id]
    assert {m["id"] for m in body["messages"]} == {mine, rejected}
    assert all(m["content"]["markdown"] for m in body["messages"])
    assert [n["message_id"] for n in body["notifications"]] == [mine]
    assert len(body["sessions"]) == 1 and "token_hash" not in body["sessions"][0]
    assert OTHER not in await resp.text()
    assert (await client.get("/api/v1/citizen/export")).status == 401


def _tables_in_migrations() -> set[str]:
    """The tables the migrations leave: created, and not dropped since, in order."""
    found: set[str] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        for verb, name in _TABLE_DDL.findall(path.read_text()):
            if verb.upper() == "CREATE":
                found.add(name.lower())
            else:
                found.discard(name.lower())
    return found


async def _tables_holding(runtime: Runtime, text: str) -> dict[str, int]:
    """Every table of the schema (the migrations' and any other), with the rows whose
    text holds `text` anywhere (any column, any type)."""
    tables = [
        r["table_name"]
        for r in await runtime.pool.fetch(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    ]
    assert _tables_in_migrations() <= set(tables)
    found = {}
    for table in tables:
        count = await runtime.pool.fetchval(
            f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE $1', f"%{text}%"
        )
        if count:
            found[table] = count
    return found


async def _erasable_citizen(runtime: Runtime, client: Client) -> tuple[str, str, str]:
    """A citizen with data in every table that holds citizens' data, through the real
    pipeline: (service id, api key, processed message id)."""
    service_id, api_key = await create_service(runtime, premium=True, payments=True)
    await reload_services(client.app)
    await create_profile(runtime, CITIZEN, email="mario@example.org", email_validated=True)
    await insert_row(
        runtime, "service_preferences", {"fiscal_code": CITIZEN, "service_id": service_id}
    )
    body = message_body(
        CITIZEN, payment_data={"amount": 100, "notice_number": "012345678901234567"}
    )
    resp = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    assert resp.status == 201, await resp.text()
    message_id: str = (await resp.json())["id"]
    await drain(runtime)
    await _notification(runtime, message_id, status="THROTTLED")
    await insert_row(
        runtime,
        "reminders",
        {
            "id": f"r-{message_id}",
            "message_id": message_id,
            "kind": "UNREAD",
            "sent_at": NOW,
            "fiscal_code": CITIZEN,
        },
    )
    return service_id, api_key, message_id


async def test_an_erased_citizen_is_in_no_table_and_is_then_treated_as_not_on_io(
    runtime: Runtime, client: Client
) -> None:
    service_id, api_key, message_id = await _erasable_citizen(runtime, client)
    await create_profile(runtime, OTHER)
    headers = await session(client, CITIZEN)
    before = await _tables_holding(runtime, CITIZEN)
    assert {
        "profiles",
        "service_preferences",
        "citizen_sessions",
        "messages",
        "notifications",
        "reminders",
    } <= set(before)

    resp = await client.delete("/api/v1/citizen/profile", headers=headers)

    assert resp.status == 204, await resp.text()
    assert await _tables_holding(runtime, CITIZEN) == {}
    # The subscriptions feed of the day tells services the profile went (IO's feed):
    # a hash, kept for the feed's days, never the fiscal code.
    hashed = await _tables_holding(runtime, fiscal_code_hash(CITIZEN))
    assert hashed == {"subscription_changes": 1}
    change = await runtime.pool.fetchrow("SELECT scope, kind FROM subscription_changes")
    assert dict(change) == {"scope": PROFILE, "kind": "UNSUBSCRIBED"}
    assert await _tables_holding(runtime, OTHER) == {"profiles": 1}
    kept = await runtime.pool.fetchrow(_ROW, message_id)
    assert (kept["status"], kept["sender_service_id"], kept["content"]) == (
        "PROCESSED",
        service_id,
        {},
    )
    assert (await client.get("/api/v1/citizen/profile", headers=headers)).status == 401
    listed = await (
        await client.get(f"/api/v1/manage/services/{service_id}/messages", headers=ADMIN)
    ).json()
    assert [i["id"] for i in listed["items"]] == [message_id]

    again = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=key(api_key))
    assert again.status == 201
    await drain(runtime)
    later = await runtime.pool.fetchrow(_ROW, (await again.json())["id"])
    assert (later["status"], later["rejection_reason"]) == ("REJECTED", "USER_NOT_FOUND")
