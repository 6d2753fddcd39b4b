"""What one fetch costs the stack's broker, by how many batches its partition holds.

The embedded broker (Tansu, in-memory engine) keeps each produced batch as an object
and, on a fetch that returns data, lists the partition's objects: its CPU per fetch
grows with the partition's length. A phase that writes for 30 s therefore pays more
broker CPU per message at its end than at its start, and more than a Kafka broker,
which reads by offset index, would. This probe puts numbers on it, so a run's broker
share can be read against them: one partition of a topic of its own, filled to each
size with one-record batches, then the broker's CPU per fetch of its last records.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devkit.bench import procs
from devkit.bench.harness import Bench

SIZES = (10, 1000, 3000)
FETCHES = 40
TAIL = 3  # records each measured fetch returns


async def measure(bench: Bench) -> dict[str, Any]:
    broker = bench.stack_pids()["broker"]
    return await fetch_cost(bench.bootstrap, f"{bench.prefix('broker-probe')}fetch", broker)


async def fetch_cost(
    bootstrap: str, topic: str, broker: list[int], sizes: tuple[int, ...] = SIZES
) -> dict[str, Any]:
    """{"fetch_ms_by_batches": {batches: broker CPU ms per fetch}, "us_per_batch": slope},
    on a new one-partition `topic`; `broker`: the broker's pids."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    costs: dict[str, float] = {}
    try:
        written = 0
        for size in sizes:
            for _ in range(size - written):  # one batch (one broker object) per record
                await producer.send_and_wait(topic, b"x" * 300, partition=0)
            written = size
            costs[str(size)] = await _fetch_ms(bootstrap, topic, size, broker)
    finally:
        await producer.stop()
    low, high = sizes[0], sizes[-1]
    slope = (costs[str(high)] - costs[str(low)]) * 1000 / (high - low)
    return {"fetch_ms_by_batches": costs, "us_per_batch": round(slope, 2)}


async def _fetch_ms(bootstrap: str, topic: str, size: int, broker: list[int]) -> float:
    """Broker CPU ms per fetch of the last `TAIL` records of a `size`-batch partition."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await asyncio.sleep(0.3)  # let the first background fetch settle
        cpu0 = procs.group_cpu({"broker": broker})["broker"]
        for _ in range(FETCHES):
            consumer.seek(tp, size - TAIL)
            got = await consumer.getmany(tp, timeout_ms=2000)
            if len(got.get(tp, [])) < TAIL:
                raise RuntimeError(f"broker probe: a fetch of {topic} came back short")
        spent = procs.group_cpu({"broker": broker})["broker"] - cpu0
    finally:
        await consumer.stop()
    return round(spent * 1000 / FETCHES, 2)
