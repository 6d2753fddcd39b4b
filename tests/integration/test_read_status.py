"""Read status across the roles: the citizen reads, the sender's view data, reminders stop.

The sender's GET renders `read_status` from `messages.is_read` and
`service_preferences.can_access_message_read_status` (sender API, issue 6 item 1);
these tests drive those rows through the real citizen API and check what the GET and
the reminders round read from them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from schemas.events import MessageRead
from tests.factories import create_profile, create_service
from tests.integration.citizen_helpers import mark_read
from tests.integration.helpers import session, status_events
from tests.integration.premium_helpers import CITIZEN, insert_message
from worker.bootstrap import Runtime
from worker.roles.reminders import run_round

ROME = ZoneInfo("Europe/Rome")
_VIEW = """
SELECT m.is_read, COALESCE(sp.can_access_message_read_status, true) AS consent
FROM messages m
LEFT JOIN service_preferences sp
       ON sp.fiscal_code = m.fiscal_code AND sp.service_id = m.sender_service_id
WHERE m.id = $1
"""


async def test_a_read_message_with_consent_is_read_for_the_sender(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await insert_message(runtime, "M-READ", sender_service_id=service_id)
    await insert_message(runtime, "M-UNREAD", sender_service_id=service_id)
    await mark_read(client, "M-READ", await session(client, CITIZEN))

    assert tuple(await runtime.pool.fetchrow(_VIEW, "M-READ")) == (True, True)  # READ
    assert tuple(await runtime.pool.fetchrow(_VIEW, "M-UNREAD")) == (False, True)  # UNREAD
    events = [e for e in await status_events(runtime) if isinstance(e, MessageRead)]
    assert [(e.message_id, e.sender_service_id) for e in events] == [("M-READ", service_id)]


async def test_without_consent_the_read_status_is_unavailable(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await insert_message(runtime, "M-READ", sender_service_id=service_id)
    headers = await session(client, CITIZEN)
    resp = await client.put(
        f"/api/v1/citizen/services/{service_id}/preferences",
        json={
            "is_inbox_enabled": True,
            "is_push_enabled": True,
            "is_email_enabled": True,
            "can_access_message_read_status": False,
        },
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
    await mark_read(client, "M-READ", headers)

    assert tuple(await runtime.pool.fetchrow(_VIEW, "M-READ")) == (True, False)  # UNAVAILABLE


async def test_reading_in_the_app_stops_the_unread_reminders(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    arrival = datetime(2024, 5, 1, 10, 0, tzinfo=ROME)
    await insert_message(runtime, "M-1", sender_service_id=service_id, created_at=arrival)

    assert (await run_round(runtime, arrival + timedelta(days=3))).planned == 1
    await mark_read(client, "M-1", await session(client, CITIZEN))
    assert (await run_round(runtime, arrival + timedelta(days=6))).planned == 0
