"""Helpers of the premium tests: message rows written with SQL, payment events published."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from schemas.topics import Topic
from tests.factories import insert_row
from worker.bootstrap import Runtime
from worker.core.records import OutRecord

CITIZEN = "RSSMRA80A01H501U"
ORG = "12345678901"
NOTICE = "302000000000000001"
RPT_ID = ORG + NOTICE


async def insert_message(runtime: Runtime, message_id: str, **fields: Any) -> None:
    """An inbox row as deliver stores it (ADVANCED, PROCESSED unless told otherwise)."""
    values: dict[str, Any] = {
        "id": message_id,
        "fiscal_code": CITIZEN,
        "sender_service_id": "svc-premium",
        "created_at": datetime.now(UTC),
        "time_to_live": 3600,
        "feature_level_type": "ADVANCED",
        "content": {"subject": "Avviso di pagamento TARI", "markdown": "x" * 80},
        "status": "PROCESSED",
    }
    values.update(fields)
    await insert_row(runtime, "messages", values)


def payment_event(event_id: str, notice: str = NOTICE, **overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "id": event_id,
        "debtorPosition": {"noticeNumber": notice},
        "creditor": {"idPA": ORG},
        "paymentInfo": {"paymentDateTime": "2024-05-02T09:30:00Z", "amount": "12.50"},
    }
    body.update(overrides)
    return json.dumps(body).encode()


async def publish(runtime: Runtime, base_topic: Topic, value: bytes, key: bytes = b"k") -> None:
    topic = runtime.settings.kafka.topics.name(base_topic)
    await runtime.publisher.publish_many([OutRecord(topic, value, key)])
