"""The bench's Kafka request counter on the real broker: a publish is one produce request
per batch, counted by API in a file another process can read at any time."""

from __future__ import annotations

from pathlib import Path

from devkit.bench import kafkacount
from schemas.topics import Topic
from worker.adapters.kafka import OutRecord
from worker.bootstrap import Runtime


async def test_requests_are_counted_by_api_while_installed(
    runtime: Runtime, tmp_path: Path
) -> None:
    counts = tmp_path / "counts.bin"
    topic = runtime.settings.kafka.topics.name(Topic.STATUS)
    await runtime.publisher.publish(OutRecord(topic, b"warm", b"k"))  # metadata known
    uninstall = kafkacount.install(counts)
    try:
        before = kafkacount.read(counts)
        await runtime.publisher.publish(OutRecord(topic, b"one", b"k"))
        await runtime.publisher.publish_many([OutRecord(topic, b"%d" % n, b"k") for n in range(5)])
        sent = kafkacount.delta(kafkacount.read(counts), before)
    finally:
        uninstall()
    assert sent == {"produce": 2}
    await runtime.publisher.publish(OutRecord(topic, b"after", b"k"))
    assert kafkacount.read(counts) == {"produce": 2}
    assert kafkacount.per_message(sent, 6) == {"produce": 0.333, "fetch": 0.0, "other": 0.0}
