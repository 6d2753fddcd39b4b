"""Upstream producers choose neither the time they are counted at nor another
service's message ids (docs/producers/contract.md).

- The rate and the daily quota count a record at its arrival: the broker's append
  time when the topic stamps it (`message.timestamp.type=LogAppendTime`), else the
  time deliver reads it; never the timestamp the producer wrote.
- `created_at` is clamped to that arrival: never later, never more than a day earlier.
- An upstream record's id is scoped to its service (`ids.upstream_id`): two services
  may use the same correlation id, and no producer can take an id another service's
  messages will get (upstream or ingress).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.topics import Topic
from tests.factories import create_profile, create_service, message_body
from tests.integration.deliver_helpers import citizen, rows
from tests.integration.helpers import drain, read_topic
from tests.integration.sender_helpers import key
from tests.integration.test_deliver_upstream import body, encoded, header, produce
from worker.adapters import kafka
from worker.bootstrap import Runtime
from worker.ids import upstream_id
from worker.ingress.app import reload_services

DAY_MS = 24 * 3600 * 1000


async def _produce_stamped(runtime: Runtime, values: list[bytes], stamps: list[int]) -> None:
    """Records with the producer's own timestamps (what a hostile producer controls)."""
    ks = runtime.settings.kafka
    producer = kafka.producer(ks, runtime.bootstrap, "test-upstream")
    await producer.start()
    try:
        topic = ks.topics.name(Topic.SUBMITTED)
        for value, stamp in zip(values, stamps, strict=True):
            await producer.send_and_wait(topic, value, key=citizen(1).encode(), timestamp_ms=stamp)
    finally:
        await producer.stop()


async def test_producer_timestamps_a_day_apart_do_not_escape_the_limits(
    runtime: Runtime,
) -> None:
    service_id, _ = await create_service(runtime, rate_per_second=1, daily_quota=1)
    await create_profile(runtime, citizen(1))
    count = 40
    values = [encoded(body(service_id, citizen(1), id=f"day-{n}")) for n in range(count)]
    start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)
    await _produce_stamped(runtime, values, [start + n * DAY_MS for n in range(count)])

    await drain(runtime)

    # one a day: the records all arrived today, whatever day they claim
    assert len(await rows(runtime)) == 1
    dead = await read_topic(runtime, Topic.SUBMITTED.dlq())
    assert len(dead) == count - 1
    assert {header(r, "postino-error-code") for r in dead} <= {"rate_exceeded", "quota_exceeded"}


async def test_created_at_is_clamped_to_the_arrival(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    future = encoded(body(service_id, citizen(1), id="future", created_at="2099-01-01T00:00:00Z"))
    ancient = encoded(body(service_id, citizen(1), id="ancient", created_at="2001-01-01T00:00:00Z"))
    before = datetime.now(UTC)
    await produce(runtime, future, ancient)

    await drain(runtime)

    after = datetime.now(UTC)
    stored = {
        r["id"]: r["created_at"]
        for r in await runtime.pool.fetch("SELECT id, created_at FROM messages")
    }
    assert before - timedelta(seconds=5) <= stored[upstream_id(service_id, "future")] <= after
    oldest = stored[upstream_id(service_id, "ancient")]
    assert before - timedelta(days=1, seconds=5) <= oldest <= after - timedelta(hours=23)


async def test_two_services_may_use_the_same_correlation_id(runtime: Runtime) -> None:
    first, _ = await create_service(runtime)
    second, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    await produce(
        runtime,
        encoded(body(first, citizen(1), id="INV-1")),
        encoded(body(second, citizen(1), id="INV-1")),
    )

    await drain(runtime)

    stored = await rows(runtime)
    assert {i: r["status"] for i, r in stored.items()} == {
        upstream_id(first, "INV-1"): "PROCESSED",
        upstream_id(second, "INV-1"): "PROCESSED",
    }
    assert await read_topic(runtime, Topic.SUBMITTED.dlq()) == []


async def test_a_producer_cannot_take_another_services_id(runtime: Runtime) -> None:
    victim, _ = await create_service(runtime)
    squatter, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    # the squatter writes, first, the id the victim's record will get
    await produce(
        runtime,
        encoded(body(squatter, citizen(1), id=upstream_id(victim, "INV-2"))),
        encoded(body(victim, citizen(1), id="INV-2")),
    )

    await drain(runtime)

    stored = await rows(runtime)
    assert stored[upstream_id(victim, "INV-2")]["status"] == "PROCESSED"
    assert (
        await runtime.pool.fetchval(
            "SELECT sender_service_id FROM messages WHERE id = $1", upstream_id(victim, "INV-2")
        )
        == victim
    )
    assert await read_topic(runtime, Topic.SUBMITTED.dlq()) == []


async def test_a_producer_cannot_take_an_id_the_ingress_issued(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    victim, api_key = await create_service(runtime)
    squatter, _ = await create_service(runtime)
    await create_profile(runtime, citizen(1))
    await reload_services(client.app)
    created = await client.post(
        "/api/v1/messages", json=message_body(citizen(1)), headers=key(api_key)
    )
    assert created.status == 201
    issued = (await created.json())["id"]
    # the squatter copies the id into a record on another partition, read first
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish_many(
        [kafka_record(topic, body(squatter, citizen(1), id=issued))]
    )

    await drain(runtime)

    owner = await runtime.pool.fetchval(
        "SELECT sender_service_id FROM messages WHERE id = $1", issued
    )
    assert owner == victim


def kafka_record(topic: str, value: dict[str, Any]) -> Any:
    from worker.core.records import OutRecord

    return OutRecord(topic, json.dumps(value).encode(), citizen(9).encode())
