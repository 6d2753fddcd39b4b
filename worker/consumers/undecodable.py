"""Skipping a record batch the consumer cannot decode, by way of the DLQ.

When a poll raises for a batch it cannot decode (see `worker.adapters.kafka_batches`),
the records that poll took from other partitions are lost with it, and the batch at
fault stays in the way of every later poll. So, under the batch lock:

1. every partition is read again, with a plain fetch, from where this process stands
   (after the last record it processed and committed), to find the batch at fault;
2. every partition is sought back to that position (nothing the failed poll took is lost);
3. in the partition at fault, the records before the batch are processed as a batch of
   their own and committed; the batch goes to `<topic>.dlq` as one record with no value
   whose headers say what it was (`postino-error-code: undecodable_batch`, its first and
   last offsets, its codec and the error), and the offset after it is committed.

If no batch at fault is found (the error was not a batch's after all), the error is
raised as it would have been without this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker import logs
from worker.adapters.kafka_batches import BadBatch, Probed, probe
from worker.consumers.not_due import NotDue
from worker.core.batch import DeadLetter
from worker.core.records import Record

log = logs.get("postino.consumer")

#: The dead-letter code of a record batch that could not be decoded.
UNDECODABLE_BATCH = "undecodable_batch"


class Loop(Protocol):
    """What of the consumer loop this needs (`ConsumerRunner`)."""

    role: str
    due: NotDue

    @property
    def consumer(self) -> AIOKafkaConsumer: ...

    async def resume_positions(self) -> dict[TopicPartition, int]: ...

    async def handle(self, records: list[Record], refused: Sequence[DeadLetter] = ()) -> None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


async def skip(runner: Loop, error: Exception) -> int:
    """Dead-letter the batches at fault and move past them; returns how many records
    were processed on the way (those before a batch at fault in its partition)."""
    consumer = runner.consumer
    starts = await runner.resume_positions()
    found = await probe(consumer, starts)
    if not found:
        log.error("undecodable_batch_not_found", role=runner.role, error=type(error).__name__)
        raise error
    for tp, offset in starts.items():
        consumer.seek(tp, offset)
    processed = 0
    for probed in found:
        processed += await _settle(runner, probed)
    return processed


async def _settle(runner: Loop, probed: Probed) -> int:
    tp, bad = probed.tp, probed.bad
    assert bad is not None  # noqa: S101 - probe returns partitions with a bad batch
    not_due: dict[TopicPartition, tuple[int, float]] = {}
    good = runner.due.due_prefix(tp, probed.good, not_due)
    if good:
        await runner.handle(good)
        await runner.commit({tp: good[-1].offset + 1})
    if not_due:
        # A retry tier's record before the batch is not due yet: the batch waits for
        # it, and is found again once the partition resumes.
        runner.due.pause(not_due)
        return len(good)
    await runner.handle([], refused=[dead_letter(bad)])
    await runner.commit({tp: bad.last_offset + 1})
    runner.consumer.seek(tp, bad.last_offset + 1)
    log.error(
        "record_batch_dead_lettered",
        role=runner.role,
        topic=bad.topic,
        partition=bad.partition,
        first_offset=bad.first_offset,
        last_offset=bad.last_offset,
        codec=bad.codec,
        error=bad.error,
    )
    return len(good)


def dead_letter(bad: BadBatch) -> DeadLetter:
    """The DLQ record of a batch: no key, no value, where it was and why in headers."""
    headers = (
        ("postino-original-last-offset", str(bad.last_offset).encode()),
        ("postino-original-codec", bad.codec.encode()),
    )
    record = Record(bad.topic, bad.partition, bad.first_offset, None, None, 0, headers)
    detail = f"record batch {bad.first_offset}..{bad.last_offset} ({bad.codec}): {bad.error}"
    return DeadLetter(record, UNDECODABLE_BATCH, detail)
