"""A record over the broker's size limit is refused for good: on Apache Kafka (a topic
with a small `max.message.bytes`) the publisher says so (`UnpublishableError`) instead
of retrying it for ever, and the ingress turns it into a 413."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_profile, create_service, message_body
from tests.integration.test_kafka_admin import inventory_file
from tests.integration.test_topics_tools import fresh, run_topics
from worker.adapters import kafka
from worker.bootstrap import Runtime
from worker.core.errors import UnpublishableError
from worker.core.records import OutRecord
from worker.ingress.app import reload_services
from worker.settings import Settings

CITIZEN = "RSSMRA80A01H501U"


@pytest.mark.usefixtures("apache_kafka")
async def test_a_record_over_the_topics_size_limit_is_unpublishable(
    migrated: Settings, tmp_path: Path
) -> None:
    settings = fresh(migrated)
    document = {"topics": {"small.records": {"config": {"max.message.bytes": 4096}}}}
    assert (await run_topics(settings, path=inventory_file(tmp_path, document)))[0] == 0
    topic = f"{settings.kafka.topic_prefix}small.records"
    producer = await kafka.start_producer(settings.kafka, settings.kafka.bootstrap or "", "test")
    try:
        publisher = kafka.Publisher(producer)
        await publisher.publish_many([OutRecord(topic, b"fits", b"k")])
        # zstd would shrink repeated bytes below the limit: random bytes do not shrink
        large = OutRecord(topic, os.urandom(16384), b"k")
        with pytest.raises(UnpublishableError):
            await publisher.publish_many([OutRecord(topic, b"fits too", b"k"), large])
        with pytest.raises(UnpublishableError):
            await publisher.publish(large)
    finally:
        await producer.stop()


async def test_the_ingress_answers_413_when_the_broker_refuses_the_records_size(
    runtime: Runtime, client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body limit set above the topic's record limit (an operator's mismatch): the
    sender hears 413 with a problem naming it, not a 500 or a 503 to retry for ever."""
    _, api_key = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    await reload_services(client.app)

    async def refused(*args: Any, **kwargs: Any) -> tuple[int, int]:
        raise UnpublishableError("MessageSizeTooLargeError")

    monkeypatch.setattr(runtime.publisher, "publish", refused)
    resp = await client.post(
        "/api/v1/messages",
        json=message_body(CITIZEN),
        headers={"Ocp-Apim-Subscription-Key": api_key},
    )
    assert resp.status == 413
    problem = await resp.json()
    assert problem["detail"] == "the message exceeds the broker's size limit"
    assert problem["type"].endswith("/payload_too_large")
