"""What only a real broker shows, on Apache Kafka: `postino topics` creates, grows and
reconfigures topics on a live cluster; a topic's retention really deletes; the
idempotent producer with acks=all gets a producer id and writes each record once."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import TopicPartition

from schemas.topics import Topic, all_topic_names
from tests.conftest import eventually
from tests.integration.test_topics_tools import fresh, run_topics, topic_config
from worker.adapters import kafka
from worker.adapters.kafka_topics import load_inventory
from worker.core.records import OutRecord
from worker.settings import Settings

pytestmark = pytest.mark.usefixtures("apache_kafka")
DAY_MS = 24 * 3600 * 1000
_names = itertools.count()


async def partition_counts(settings: Settings) -> dict[str, int]:
    """Partitions of every topic of the inventory (base name -> count)."""
    admin = kafka.admin_client(settings.kafka, settings.kafka.bootstrap or "")
    await admin.start()
    try:
        prefix = settings.kafka.topic_prefix
        described = await admin.describe_topics([prefix + n for n in all_topic_names()])
        return {t["topic"][len(prefix) :]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


def _all_known(counts: dict[str, int]) -> bool:
    """Every topic in the metadata (a new topic reaches it a moment after its creation)."""
    return len(counts) == len(all_topic_names()) and all(counts.values())


def inventory_file(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / f"topics-{next(_names)}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


async def test_topics_creates_grows_and_reconfigures_topics_on_a_live_cluster(
    migrated: Settings, tmp_path: Path
) -> None:
    settings = fresh(migrated)
    code, lines = await run_topics(settings)
    assert code == 0
    # -1, the default: the cluster's default.replication.factor (1 on one node)
    assert all(" replication=1" in line for line in lines if line.startswith("+ create"))
    counts = await eventually(lambda: partition_counts(settings), _all_known)
    assert counts["messages.submitted"] == settings.kafka.partitions
    assert counts["notifications.retry.1"] == settings.kafka.retry_partitions
    assert counts["messages.submitted.dlq"] == settings.kafka.dlq_partitions == 1

    inventory = load_inventory()
    inventory["topics"]["payments.updates"] = {
        **inventory["topics"]["payments.updates"],
        "partitions": 5,
        "config": {"retention.ms": 3 * DAY_MS, "cleanup.policy": "compact,delete"},
    }
    inventory["defaults"]["min.insync.replicas"] = 1
    changed = inventory_file(tmp_path, inventory)
    code, lines = await run_topics(settings, path=changed)
    assert code == 0, lines
    assert lines[-1] == "topics: applied"

    payments = settings.kafka.topics.name(Topic.PAYMENTS)
    grown = await eventually(
        lambda: partition_counts(settings), lambda c: c["payments.updates"] == 5
    )
    assert grown["payments.updates"] == 5
    # an altered config reaches the broker a moment after the controller took it
    config = await eventually(
        lambda: topic_config(settings, payments), lambda c: c["retention.ms"] == str(3 * DAY_MS)
    )
    assert (config["retention.ms"], config["cleanup.policy"]) == (str(3 * DAY_MS), "compact,delete")
    assert config["min.insync.replicas"] == "1"
    assert await run_topics(settings, path=changed) == (0, ["topics: nothing to change"])


async def test_retention_really_deletes_expired_records(migrated: Settings, tmp_path: Path) -> None:
    settings = fresh(migrated)
    document = {"topics": {"retention.probe": {"config": {"retention.ms": 500, "segment.ms": 200}}}}
    assert (await run_topics(settings, path=inventory_file(tmp_path, document)))[0] == 0
    topic = f"{settings.kafka.topic_prefix}retention.probe"
    tp = TopicPartition(topic, 0)
    producer = await kafka.start_producer(settings.kafka, settings.kafka.bootstrap or "", "test")
    consumer = kafka.consumer(settings.kafka, settings.kafka.bootstrap or "", "retention-probe")
    await consumer.start()
    try:
        await producer.send_and_wait(topic, b"first", partition=0)
        deadline = asyncio.get_running_loop().time() + 60
        start = 0
        while start == 0:
            assert asyncio.get_running_loop().time() < deadline, "retention never deleted"
            # each record after segment.ms rolls a segment; an old one expires and goes
            await producer.send_and_wait(topic, b"more", partition=0)
            start = (await consumer.beginning_offsets([tp]))[tp]
            await asyncio.sleep(0.2)
        assert start > 0
    finally:
        await consumer.stop()
        await producer.stop()


async def test_the_idempotent_producer_with_acks_all_gets_an_id_and_writes_once(
    migrated: Settings,
) -> None:
    settings = fresh(migrated)
    assert (await run_topics(settings))[0] == 0
    ks = replace(settings.kafka, enable_idempotence=True)
    producer = await kafka.start_producer(ks, ks.bootstrap or "", "ingress")
    try:
        publisher = kafka.Publisher(producer)
        topic = ks.topics.name(Topic.STATUS)
        await publisher.publish_many([OutRecord(topic, b"%d" % n, b"k") for n in range(50)])
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
        assert producer._sender._acks == -1  # acks=all
    finally:
        await producer.stop()
    reader = kafka.consumer(ks, ks.bootstrap or "", "idempotence-reader")
    await reader.start()
    try:
        reader.assign(await kafka.all_partitions(reader, [topic]))
        await reader.seek_to_beginning()
        values: list[bytes] = []
        for _ in range(20):
            got = await reader.getmany(timeout_ms=200)
            values += [r.value for recs in got.values() for r in recs if r.value is not None]
            if len(values) >= 50:
                break
        assert sorted(values) == sorted(b"%d" % n for n in range(50))
    finally:
        await reader.stop()
