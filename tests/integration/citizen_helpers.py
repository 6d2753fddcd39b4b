"""Helpers of the citizen API tests: inbox rows, sessions, reading a topic back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import codecs
from schemas.events import StatusEvent
from tests.conftest import ADMIN_TOKEN
from tests.factories import MARKDOWN
from worker.bootstrap import Runtime

_ids = itertools.count(1)
BASE_TIME = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


async def insert_message(runtime: Runtime, fiscal_code: str, service_id: str, **fields: Any) -> str:
    """A PROCESSED inbox row, `n` minutes after BASE_TIME unless `created_at` is given."""
    n = next(_ids)
    values: dict[str, Any] = {
        "id": f"01JMSG{n:020d}",
        "fiscal_code": fiscal_code,
        "sender_service_id": service_id,
        "created_at": BASE_TIME + timedelta(minutes=n),
        "time_to_live": 3600,
        "feature_level_type": "STANDARD",
        "content": {"subject": f"Avviso numero {n:04d}", "markdown": MARKDOWN},
        "status": "PROCESSED",
    }
    values.update(fields)
    cols = ", ".join(values)
    params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await runtime.pool.execute(f"INSERT INTO messages ({cols}) VALUES ({params})", *values.values())
    return str(values["id"])


async def session(client: TestClient[Any, Any], fiscal_code: str) -> dict[str, str]:
    """Headers of a fresh citizen session issued by the back-office."""
    resp = await client.post(
        f"/api/v1/manage/profiles/{fiscal_code}/sessions",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert resp.status == 201, await resp.text()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def status_events(runtime: Runtime) -> list[StatusEvent]:
    """Every event on this test's `messages.status`, in offset order per partition."""
    ks = runtime.settings.kafka
    topic = ks.topic("messages.status")
    consumer = AIOKafkaConsumer(bootstrap_servers=runtime.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(ks.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        events: list[StatusEvent] = []
        idle = 0
        while idle < 2:
            batch = await consumer.getmany(timeout_ms=100)
            got = [r for recs in batch.values() for r in recs]
            idle = 0 if got else idle + 1
            events += [codecs.STATUS.decode(r.value or b"") for r in got]
        return events
    finally:
        await consumer.stop()


def as_dict(event: StatusEvent) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.to_builtins(event)
    return value
