"""What the cluster chaos suite asks the cluster: partition leaders, in-sync replica
sets (from metadata, as the admin client's `describe_topics` reports them) and the
busiest partition of a topic."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


@dataclass(frozen=True, slots=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def full(self) -> bool:
        return self.leader >= 0 and set(self.isr) == set(self.replicas)


@contextlib.asynccontextmanager
async def admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def partitions(client: AIOKafkaAdminClient, prefix: str) -> list[PartitionState]:
    """Every partition of the topics named `prefix*`, plus the consumer offsets."""
    names = [t for t in await client.list_topics() if t.startswith(prefix)]
    names.append("__consumer_offsets")
    found = []
    for topic in await client.describe_topics(names):
        for p in topic["partitions"]:
            found.append(
                PartitionState(
                    topic["topic"],
                    p["partition"],
                    p["leader"],
                    tuple(p["replicas"]),
                    tuple(p["isr"]),
                )
            )
    return found


async def wait_isr_full(bootstrap: str, prefix: str, timeout: float = 180.0) -> float:
    """Until every partition has a leader and all its replicas in sync; the seconds it
    took. Raises after `timeout`, naming a partition short of replicas."""
    began = time.monotonic()
    short: list[PartitionState] = []
    while time.monotonic() - began < timeout:
        try:
            async with admin(bootstrap) as client:
                short = [p for p in await partitions(client, prefix) if not p.full]
        except Exception:
            short = short or []
        else:
            if not short:
                return time.monotonic() - began
        await asyncio.sleep(1.0)
    first = short[0] if short else None
    raise RuntimeError(f"ISR not full after {timeout:.0f} s: {first}")


async def busiest_leader(bootstrap: str, topic: str) -> tuple[int, int]:
    """(partition, leader node id) of the partition of `topic` holding most records."""
    async with admin(bootstrap) as client:
        (described,) = await client.describe_topics([topic])
    leaders = {p["partition"]: p["leader"] for p in described["partitions"]}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in sorted(leaders)])
    finally:
        await consumer.stop()
    busiest = max(ends, key=lambda tp: ends[tp]).partition
    return busiest, leaders[busiest]
