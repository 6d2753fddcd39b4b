"""Reading positions off the broker: high watermarks and a group's committed offsets.

High watermarks come from a fetch response, not from ListOffsets: Tansu's
`end_offsets()` under-reports after multi-record batches, so we seek to what
ListOffsets says and fetch once, which reports the true high watermark. On Apache Kafka
both agree; the extra short fetch (10 ms wait at the log end) is what the one reading
costs, so the same code serves every broker.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker.adapters.kafka_client import client_options
from worker.settings import KafkaSettings

Offsets = dict[TopicPartition, int]


def inspector(
    settings: KafkaSettings, bootstrap: str, group_id: str | None = None
) -> AIOKafkaConsumer:
    """A consumer that only looks: small fetches, no auto-commit."""
    return AIOKafkaConsumer(
        **client_options(settings, bootstrap, "inspector"),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
        max_partition_fetch_bytes=64 * 1024,
        request_timeout_ms=10000,
    )


async def high_watermarks(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], timeout: float = 5.0
) -> Offsets:
    """The high watermark of each partition (assigns them to `consumer`)."""
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    deadline = asyncio.get_running_loop().time() + timeout
    while any(consumer.highwater(tp) is None for tp in partitions):
        if asyncio.get_running_loop().time() > deadline:
            break
        await consumer.getmany(*partitions, timeout_ms=50)
    marks: Offsets = {}
    for tp in partitions:
        mark = consumer.highwater(tp)
        marks[tp] = mark if mark is not None else await consumer.position(tp)
    return marks


async def committed(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> Offsets:
    """Committed offsets of the consumer's group (partitions without one are left out).

    One OffsetFetch for all partitions; aiokafka's public `committed()` asks per partition.
    """
    if not partitions:
        return {}
    found = await consumer._coordinator.fetch_committed_offsets(partitions)
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
