"""docs/integrators/sending.md: text no store or channel can carry is refused up front
(400 naming the field, or the DLQ with the same code for records produced straight to
Kafka), and whatever got a 201 ends in a final status, never left `ACCEPTED`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.enums import FeatureLevel
from schemas.events import MessageStatusChanged
from schemas.messages import MessageContent, NewMessage
from schemas.topics import Topic
from tests.factories import MARKDOWN, create_profile, create_service, message_body
from tests.integration.helpers import drain, read_topic, status_events
from worker.adapters.services_repo import ServicesRepo
from worker.bootstrap import Runtime
from worker.core.records import OutRecord
from worker.ingress.app import reload_services
from worker.roles import payments
from worker.services import accept
from worker.services.directory import Service

CITIZEN = "RSSMRA80A01H501U"


async def _sender(runtime: Runtime, client: TestClient[Any, Any]) -> dict[str, str]:
    _, api_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)
    return {"Ocp-Apim-Subscription-Key": api_key, "Content-Type": "application/json"}


async def _submitted(runtime: Runtime) -> int:
    return len(await read_topic(runtime, Topic.SUBMITTED))


async def test_a_nul_in_the_subject_or_the_markdown_is_refused_naming_the_field(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    for field, text in (
        ("subject", "Promemoria TARI\u0000 2026"),
        ("markdown", MARKDOWN + "\u0000"),
        ("markdown", MARKDOWN + "\u0085"),
    ):
        resp = await client.post(
            "/api/v1/messages", json=message_body(CITIZEN, **{field: text}), headers=headers
        )
        assert resp.status == 400, field
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["detail"].startswith(f"content.{field}: ")
    assert await _submitted(runtime) == 0


async def test_a_subject_is_one_line_and_the_markdown_may_span_lines(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    two_lines = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN, subject="Promemoria\nTARI 2026"),
        headers=headers,
    )
    assert two_lines.status == 400
    markdown = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN, markdown="# Avviso\r\n\n\t" + MARKDOWN),
        headers=headers,
    )
    assert markdown.status == 201, await markdown.text()


async def test_an_unpaired_surrogate_is_refused_naming_the_field(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    raw = json.dumps(message_body(CITIZEN, subject="Promemoria TARI 2026 \ud800"))
    resp = await client.post("/api/v1/messages", data=raw.encode(), headers=headers)
    assert resp.status == 400
    assert (await resp.json())["detail"] == "content.subject: contains an unpaired surrogate"


async def test_a_fiscal_code_with_a_trailing_newline_in_the_path_is_a_400(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    resp = await client.post(
        "/api/v1/messages/RSSMRA80A01H501U%0A", json=message_body(), headers=headers
    )
    assert resp.status == 400
    assert "fiscal_code" in (await resp.json())["detail"]
    profile = await client.get("/api/v1/profiles/RSSMRA80A01H501U%0A", headers=headers)
    assert profile.status == 400
    assert await _submitted(runtime) == 0


async def test_a_body_nested_ten_thousand_deep_is_a_400_not_a_500(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    headers = await _sender(runtime, client)
    deep = "[" * 10_000 + "]" * 10_000
    raw = json.dumps(message_body(CITIZEN)).replace('"content": {', f'"x": {deep}, "content": {{')
    resp = await client.post("/api/v1/messages", data=raw.encode(), headers=headers)
    assert resp.status == 400
    assert (await resp.json())["detail"] == "x[0][0][0]...: nested deeper than 32 levels"
    nested: dict[str, Any] = {"a": 1}
    for _ in range(30):
        nested = {"a": nested}
    # body, content and prescription_data's 31 levels: 33
    deep_by_one = message_body(CITIZEN, prescription_data=nested)
    assert (await client.post("/api/v1/messages", json=deep_by_one, headers=headers)).status == 400
    fits = message_body(CITIZEN, prescription_data=nested["a"])  # 32 levels
    resp = await client.post("/api/v1/messages", json=fits, headers=headers)
    assert resp.status == 201, await resp.text()


async def test_an_upstream_record_with_a_nul_goes_to_the_dlq_with_the_same_code(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    value = {
        "id": "up-nul",
        "sender_service_id": service_id,
        "fiscal_code": CITIZEN,
        "content": {"subject": "Promemoria TARI\u0000 2026", "markdown": MARKDOWN},
    }
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish(OutRecord(topic, json.dumps(value).encode(), b"k"))
    await drain(runtime)

    (dead,) = await read_topic(runtime, f"{Topic.SUBMITTED}.dlq")
    assert dead.header("postino-error-code") == b"control_character"
    # No 201 was given for it: it waits in the DLQ to be fixed and replayed.
    assert await runtime.pool.fetchval("SELECT count(*) FROM messages") == 0


async def _accepted_with(runtime: Runtime, service: Service, **content: Any) -> str:
    """A record exactly as the ingress publishes it after a 201, with this content
    (the ingress's checks bypassed, as an older ingress would have)."""
    message = NewMessage(
        content=MessageContent(
            **{"subject": "Avviso di pagamento TARI", "markdown": MARKDOWN, **content}
        ),
        feature_level_type=FeatureLevel.STANDARD,
    )
    return await accept.publish_message(
        message,
        CITIZEN,
        service,
        publisher=runtime.publisher,
        signer=runtime.signer,
        topics=runtime.settings.kafka.topics,
    )


async def test_an_accepted_message_that_deliver_dead_letters_ends_failed_with_its_event(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, api_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    entry = await ServicesRepo(runtime.pool).directory_entry(service_id)
    assert entry is not None
    lost_id = await _accepted_with(runtime, entry, subject="Promemoria TARI\u0000 2026")
    kept_id = await _accepted_with(runtime, entry)
    await drain(runtime)

    found = await runtime.pool.fetch("SELECT id, status, failure_reason, content FROM messages")
    by_id = {r["id"]: r for r in found}
    assert by_id[kept_id]["status"] == "PROCESSED"
    lost = by_id[lost_id]
    assert (lost["status"], lost["failure_reason"], lost["content"]) == (
        "FAILED",
        "INVALID_MESSAGE",
        {},
    )
    events = [e for e in await status_events(runtime) if e.message_id == lost_id]
    assert len(events) == 1
    assert isinstance(events[0], MessageStatusChanged)
    assert (events[0].status, events[0].failure_reason) == ("FAILED", "INVALID_MESSAGE")
    view = await client.get(
        f"/api/v1/messages/{CITIZEN}/{lost_id}", headers={"Ocp-Apim-Subscription-Key": api_key}
    )
    assert view.status == 200
    assert (await view.json())["status"] == "FAILED"


async def test_payment_events_get_the_same_text_rules(runtime: Runtime) -> None:
    good = {
        "debtorPosition": {"noticeNumber": "302000000000000001"},
        "creditor": {"idPA": "12345678901"},
    }
    values = [
        json.dumps({"id": "evt\u0000", **good}).encode(),
        b'{"id": "evt-deep", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
        json.dumps({"id": "evt-ok", **good}).encode(),
    ]
    topic = runtime.settings.kafka.topics.name(Topic.PAYMENTS)
    await runtime.publisher.publish_many([OutRecord(topic, v, b"k") for v in values])
    await drain(runtime, payments.build)

    dead = await read_topic(runtime, f"{Topic.PAYMENTS}.dlq")
    assert [d.header("postino-error-code") for d in dead] == [
        b"control_character",
        b"nested_too_deep",
    ]
    kept = await runtime.pool.fetch("SELECT event_id FROM payments")
    assert [r["event_id"] for r in kept] == ["evt-ok"]
