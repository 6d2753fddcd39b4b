"""Helpers of the premium tests: message rows written with SQL, topics read back."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from worker.adapters import kafka
from worker.adapters.kafka import OutRecord, Record
from worker.bootstrap import Runtime

CITIZEN = "RSSMRA80A01H501U"
ORG = "12345678901"
NOTICE = "302000000000000001"
RPT_ID = ORG + NOTICE
_groups = itertools.count()


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
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await runtime.pool.execute(f"INSERT INTO messages ({cols}) VALUES ({params})", *values.values())


def payment_event(event_id: str, notice: str = NOTICE, **overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "id": event_id,
        "debtorPosition": {"noticeNumber": notice},
        "creditor": {"idPA": ORG},
        "paymentInfo": {"paymentDateTime": "2024-05-02T09:30:00Z", "amount": "12.50"},
    }
    body.update(overrides)
    return json.dumps(body).encode()


async def publish(runtime: Runtime, base_topic: str, value: bytes, key: bytes = b"k") -> None:
    topic = runtime.settings.kafka.topic(base_topic)
    await runtime.publisher.publish_many([OutRecord(topic, value, key)])


async def read_topic(runtime: Runtime, base_topic: str) -> list[Record]:
    """Every record on a topic so far (from the beginning, until two empty polls)."""
    ks = runtime.settings.kafka
    consumer = kafka.consumer(ks, runtime.bootstrap, f"reader-{next(_groups)}")
    await consumer.start()
    try:
        topic = ks.topic(base_topic)
        consumer.assign([TopicPartition(topic, p) for p in range(ks.partitions)])
        await consumer.seek_to_beginning()
        found: list[Record] = []
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=100)
            got = [Record.from_consumer(r) for recs in batch.values() for r in recs]
            found += got
            idle = 0 if got else idle + 1
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()
