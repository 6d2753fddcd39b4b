"""Publisher on the real broker: `publish_many` builds one batch per partition, yet every
keyed record lands where a plain aiokafka `send` puts it, in order per key, headers kept;
full batches split; `murmur2` matches aiokafka's."""

from __future__ import annotations

import os

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from schemas.topics import Topic
from tests.integration.helpers import read_topic
from worker.adapters.kafka import murmur2
from worker.bootstrap import Runtime
from worker.core.records import OutRecord


def test_murmur2_matches_aiokafka() -> None:
    for length in (*range(40), 100, 1000):
        for _ in range(25):
            key = os.urandom(length)
            assert murmur2(key) == aiokafka_murmur2(key)


def _default_partition(key: bytes, partitions: int) -> int:
    everything = list(range(partitions))
    chosen: int = DefaultPartitioner()(key, everything, everything)
    return chosen


async def test_publish_many_keeps_partition_and_order_per_key(runtime: Runtime) -> None:
    ks = runtime.settings.kafka
    status, notifications = ks.topics.name(Topic.STATUS), ks.topics.name(Topic.NOTIFICATIONS)
    keys = [f"RSSMRA80A01H5{n:02d}U".encode() for n in range(12)]
    filler = b"x" * 3000  # 120 records of 3 KB per topic: several batches per partition
    records = [
        OutRecord(
            status if n % 2 else notifications,
            b"%d:" % n + filler,
            keys[n % len(keys)],
            (("postino-n", b"%d" % n),),
        )
        for n in range(240)
    ]
    records.append(OutRecord(status, b"no key"))
    await runtime.publisher.publish_many(records)

    seen = await read_topic(runtime, Topic.STATUS) + await read_topic(runtime, Topic.NOTIFICATIONS)
    assert sorted(r.value or b"" for r in seen) == sorted(r.value for r in records)
    for r in seen:
        if r.key is not None:
            assert r.partition == _default_partition(r.key, ks.partitions)
            assert r.header("postino-n") == (r.value or b"").split(b":")[0]
    for topic in (status, notifications):
        for key in keys:
            got = [r.value for r in seen if r.key == key and r.topic == topic]
            assert got == [r.value for r in records if r.key == key and r.topic == topic]


async def test_publish_puts_a_key_on_the_default_partition(runtime: Runtime) -> None:
    ks = runtime.settings.kafka
    key = b"VRDGPP80A01H501X"
    partition, _ = await runtime.publisher.publish(
        OutRecord(ks.topics.name(Topic.STATUS), b"one", key)
    )
    assert partition == _default_partition(key, ks.partitions)
