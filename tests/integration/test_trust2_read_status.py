"""Read status: what the citizen was told is what the sender sees (docs/integrators/premium.md).

One rule decides it for the sender's GET, the `read` callback and the operators'
console: LEGACY profiles never share read status (IO answers `UNAVAILABLE`), AUTO
shares it unless the citizen's preference for the service denies it, MANUAL shares it
only when the citizen's preference for the service allows it.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from schemas.events import MessageRead
from tests.factories import create_profile, create_service
from tests.integration.citizen_helpers import insert_message, mark_read
from tests.integration.helpers import ADMIN, session, status_events
from tests.integration.sender_helpers import CITIZEN, key
from worker.bootstrap import Runtime
from worker.ingress.app import reload_services


async def _read_in_the_app(
    runtime: Runtime, client: TestClient[Any, Any], mode: str, consent: bool | None = None
) -> tuple[str, str, dict[str, Any]]:
    """A premium service's ADVANCED message read by a citizen in `mode`, with a stored
    read-status preference for the service when `consent` is given: (message id,
    api key, the preference the app shows the citizen)."""
    service_id, api_key = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN, preferences_mode=mode)
    await reload_services(client.app)
    message_id = await insert_message(runtime, CITIZEN, service_id, feature_level_type="ADVANCED")
    headers = await session(client, CITIZEN)
    if consent is not None:
        resp = await client.put(
            f"/api/v1/citizen/services/{service_id}/preferences",
            json={
                "is_inbox_enabled": True,
                "is_push_enabled": True,
                "is_email_enabled": True,
                "can_access_message_read_status": consent,
            },
            headers=headers,
        )
        assert resp.status == 200, await resp.text()
    await mark_read(client, message_id, headers)
    shown = await client.get(f"/api/v1/citizen/services/{service_id}/preferences", headers=headers)
    assert shown.status == 200, await shown.text()
    return message_id, api_key, await shown.json()


async def _sender_sees(client: TestClient[Any, Any], message_id: str, api_key: str) -> str:
    resp = await client.get(f"/api/v1/messages/{CITIZEN}/{message_id}", headers=key(api_key))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["read_status"])


async def _console_says(client: TestClient[Any, Any], message_id: str) -> str:
    resp = await client.get(f"/api/v1/status/messages/{message_id}", headers=ADMIN)
    assert resp.status == 200, await resp.text()
    steps = [s for s in (await resp.json())["steps"] if s["kind"] == "read"]
    return str(steps[0]["title"])


async def _read_events(runtime: Runtime) -> list[MessageRead]:
    return [e for e in await status_events(runtime) if isinstance(e, MessageRead)]


async def test_manual_mode_without_a_preference_hides_the_read_from_the_sender(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, api_key, shown = await _read_in_the_app(runtime, client, "MANUAL")

    assert shown["can_access_message_read_status"] is False
    assert await _sender_sees(client, message_id, api_key) == "UNAVAILABLE"
    assert await _console_says(client, message_id) == "Read status: UNAVAILABLE"
    assert await _read_events(runtime) == []


async def test_manual_mode_with_consent_shows_the_read_everywhere(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, api_key, shown = await _read_in_the_app(runtime, client, "MANUAL", True)

    assert shown["can_access_message_read_status"] is True
    assert await _sender_sees(client, message_id, api_key) == "READ"
    assert await _console_says(client, message_id) == "Read by the citizen"
    assert [e.message_id for e in await _read_events(runtime)] == [message_id]


async def test_a_legacy_profile_answers_unavailable_as_io_does(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, api_key, shown = await _read_in_the_app(runtime, client, "LEGACY")

    assert shown["can_access_message_read_status"] is False
    assert await _sender_sees(client, message_id, api_key) == "UNAVAILABLE"
    assert await _console_says(client, message_id) == "Read status: UNAVAILABLE"
    assert await _read_events(runtime) == []


async def test_auto_mode_without_a_preference_shares_the_read(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, api_key, shown = await _read_in_the_app(runtime, client, "AUTO")

    assert shown["can_access_message_read_status"] is True
    assert await _sender_sees(client, message_id, api_key) == "READ"
    assert [e.message_id for e in await _read_events(runtime)] == [message_id]


async def test_a_read_made_without_consent_stays_unavailable_after_consent_is_given(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, api_key, _ = await _read_in_the_app(runtime, client, "AUTO", False)
    service_id = await runtime.pool.fetchval("SELECT sender_service_id FROM messages")
    resp = await client.put(
        f"/api/v1/citizen/services/{service_id}/preferences",
        json={
            "is_inbox_enabled": True,
            "is_push_enabled": True,
            "is_email_enabled": True,
            "can_access_message_read_status": True,
        },
        headers=await session(client, CITIZEN),
    )
    assert resp.status == 200, await resp.text()

    # The citizen read it while told "not shared": the sender never learns of that read.
    assert await _sender_sees(client, message_id, api_key) == "UNAVAILABLE"
    assert await _read_events(runtime) == []
