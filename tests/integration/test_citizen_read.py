"""Reading a message: one-way, one `MessageRead` event with the next seq, re-emitted
identically when the publish failed and the citizen retries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.events import MessageRead, MessageStatusChanged
from tests.factories import create_profile, create_service, message_body
from tests.integration.citizen_helpers import as_dict, inbox_with_one_message
from tests.integration.helpers import drain, session, status_events
from worker.bootstrap import Runtime
from worker.core.errors import RetryableError
from worker.core.records import OutRecord
from worker.ingress.app import reload_services

CITIZEN = "RSSMRA80A01H501U"


class _BrokerDown:
    """A publisher whose broker is unreachable."""

    async def publish(self, record: OutRecord) -> tuple[int, int]:
        raise RetryableError("broker unreachable")

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        raise RetryableError("broker unreachable")


async def _read(client: TestClient[Any, Any], message_id: str, headers: dict[str, str]) -> Any:
    return await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "reading", "is_read": True},
        headers=headers,
    )


async def test_a_submitted_message_read_in_the_app_emits_read_after_processed(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    _, key = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    body = {**message_body(CITIZEN), "feature_level_type": "ADVANCED"}
    sent = await client.post(
        "/api/v1/messages", json=body, headers={"Ocp-Apim-Subscription-Key": key}
    )
    message_id = (await sent.json())["id"]
    await drain(runtime)
    headers = await session(client, CITIZEN)

    resp = await _read(client, message_id, headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["is_read"] is True
    assert body["read_at"]

    events = [e for e in await status_events(runtime) if e.message_id == message_id]
    assert [type(e) for e in events] == [MessageStatusChanged, MessageRead]
    assert [e.seq for e in events] == [1, 2]
    inbox = await (await client.get("/api/v1/citizen/messages", headers=headers)).json()
    assert inbox["items"][0]["is_read"] is True


async def test_reading_twice_re_emits_the_same_event_and_unread_is_refused(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, headers = await inbox_with_one_message(runtime, client, CITIZEN)

    assert (await _read(client, message_id, headers)).status == 200
    assert (await _read(client, message_id, headers)).status == 200
    unread = await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "reading", "is_read": False},
        headers=headers,
    )
    assert unread.status == 400

    events = await status_events(runtime)
    assert len(events) == 2
    assert as_dict(events[0]) == as_dict(events[1])
    assert events[0].seq == 2
    seq = await runtime.pool.fetchval("SELECT status_seq FROM messages WHERE id = $1", message_id)
    assert seq == 2


async def test_a_failed_publish_answers_503_and_the_retry_emits_the_event(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, headers = await inbox_with_one_message(runtime, client, CITIZEN)
    real = runtime.publisher
    runtime.publisher = _BrokerDown()  # type: ignore[assignment]
    try:
        failed = await _read(client, message_id, headers)
    finally:
        runtime.publisher = real
    assert failed.status == 503
    assert await status_events(runtime) == []

    retried = await _read(client, message_id, headers)
    assert retried.status == 200
    events = await status_events(runtime)
    assert len(events) == 1
    assert isinstance(events[0], MessageRead)
    assert events[0].seq == 2


async def test_a_bulk_change_reads_and_archives_at_once(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    message_id, headers = await inbox_with_one_message(runtime, client, CITIZEN)
    resp = await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "bulk", "is_read": True, "is_archived": True},
        headers=headers,
    )
    body = await resp.json()
    assert (body["is_read"], body["is_archived"]) == (True, True)
    incomplete = await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "bulk", "is_archived": False},
        headers=headers,
    )
    assert incomplete.status == 400
    unknown = await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "deleting"},
        headers=headers,
    )
    assert unknown.status == 400
