"""The operators' status page over the real broker and PostgreSQL: counts by status,
DLQ records from the high watermarks, consumer lag, and nothing personal."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from schemas import codecs
from schemas.messages import MessageContent, SubmittedMessage
from schemas.topics import CONSUMED, Topic
from tests.factories import MARKDOWN, create_profile, create_service
from worker.bootstrap import Runtime
from worker.core.records import OutRecord
from worker.roles import deliver

CITIZEN = "RSSMRA80A01H501U"


async def _submit(runtime: Runtime, service_id: str, fiscal_code: str) -> None:
    message = SubmittedMessage(
        sender_service_id=service_id,
        fiscal_code=fiscal_code,
        content=MessageContent(subject="Avviso di pagamento TARI", markdown=MARKDOWN),
    )
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish(
        OutRecord(topic, codecs.SUBMITTED.encode(message), fiscal_code.encode())
    )


async def test_the_status_reports_messages_dlq_records_and_lag(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await _submit(runtime, service_id, CITIZEN)
    await _submit(runtime, service_id, "VRDGPP80A01H501X")
    runner = deliver.build(runtime)
    try:
        await runner.run_until_idle()
        dlq = runtime.settings.kafka.topics.dlq(Topic.SUBMITTED)
        await runtime.publisher.publish_many([OutRecord(dlq, b"{}"), OutRecord(dlq, b"[]")])
        await _submit(runtime, service_id, CITIZEN)  # not consumed yet: lag 1

        resp = await client.get("/api/v1/status")
        assert resp.status == 200
        status = await resp.json()
    finally:
        await runner.stop()

    assert status["messages_by_status"] == {"PROCESSED": 1, "REJECTED": 1}
    assert status["dlq_records"]["messages.submitted.dlq"] == 2
    assert set(status["dlq_records"]) == {t.dlq() for t in CONSUMED}
    assert status["consumer_lag"]["deliver"]["messages.submitted"] == 1
    assert status["uptime_seconds"] >= 0


async def test_the_html_page_renders_counts_and_no_fiscal_code(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    await runtime.pool.execute(
        "INSERT INTO notifications (id, message_id, fiscal_code, channel, kind, status, deadline)"
        " VALUES ('n1', 'm1', $1, 'PUSH', 'MESSAGE', 'SENT', now())",
        CITIZEN,
    )
    resp = await client.get("/status")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "<h2>Notifications</h2>" in page
    assert "<td>PUSH</td><td>SENT</td><td>1</td>" in page
    assert "messages.submitted.dlq" in page
    assert CITIZEN not in page
