"""A record batch no record of which can be decoded goes to the DLQ as its offsets and
the error, and the loop moves past it; nothing else is lost or stopped.

The fake consumer below serves real record-batch bytes and decodes them with aiokafka's
own record classes, as aiokafka's fetcher does: a batch it cannot decode raises out of
`getmany`, after positions of partitions drained earlier in that poll have moved.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import UnsupportedCodecError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c

from tests.unit.test_runner import FakePublisher, echo
from worker.consumers.runner import ConsumerRunner

P0, P1 = TopicPartition("in", 0), TopicPartition("in", 1)
_ATTRIBUTES, _CRC = struct.calcsize(">qiibI"), struct.calcsize(">qiib")


def batch(base: int, values: Sequence[bytes], codec: int = 0) -> bytes:
    """A v2 record batch at offset `base`; `codec` > 4 is one no client knows."""
    builder = DefaultRecordBatchBuilder(2, min(codec, 4), False, -1, -1, -1, 1 << 20)
    for i, value in enumerate(values):
        builder.append(i, timestamp=1000 + i, key=b"k", value=value, headers=[])
    raw = bytearray(builder.build())
    struct.pack_into(">q", raw, 0, base)
    if codec > 4:
        attributes = struct.unpack_from(">h", raw, _ATTRIBUTES)[0]
        struct.pack_into(">h", raw, _ATTRIBUTES, (attributes & ~0x07) | codec)
        struct.pack_into(">I", raw, _CRC, calc_crc32c(bytes(raw[_ATTRIBUTES:])))
    return bytes(raw)


class _Cluster:
    def leader_for_partition(self, tp: TopicPartition) -> int:
        return 1


class _Client:
    """Answers the probe's fetch request from the fake log."""

    def __init__(self, log: dict[TopicPartition, bytes]) -> None:
        self.cluster = _Cluster()
        self._log = log

    async def send(self, node: int, request: Any) -> Any:
        topics = [
            (topic, [(p, 0, 10, self._log[TopicPartition(topic, p)]) for p, _, _ in parts])
            for topic, parts in request.topics
        ]
        return type("FetchResponse", (), {"topics": topics})()


class LogConsumer:
    """Partitions of record batches, read the way aiokafka's fetcher reads them."""

    def __init__(self, log: dict[TopicPartition, bytes]) -> None:
        self._log = log
        self._client = _Client(log)
        self.positions = dict.fromkeys(log, 0)
        self.committed_offsets: dict[TopicPartition, int] = {}
        self.log: list[str] = []  # what FakePublisher notes

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], listener: Any = None) -> None: ...

    def assignment(self) -> set[TopicPartition]:
        return set(self._log)

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        drained: dict[TopicPartition, list[Any]] = {}
        for tp in sorted(self._log, key=lambda tp: -tp.partition):  # P1 first
            records = MemoryRecords(self._log[tp])
            found = []
            while records.has_next():
                raw = records.next_batch()
                if raw.next_offset <= self.positions[tp]:
                    continue  # the broker serves batches from the position on
                for record in raw:  # raises for a batch it cannot decode
                    if record.offset >= self.positions[tp]:
                        found.append(_consumed(tp, record))
            if found:
                self.positions[tp] = found[-1].offset + 1
                drained[tp] = found
        return drained

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed_offsets.update(offsets)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)

    async def beginning_offsets(self, tps: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)


def _consumed(tp: TopicPartition, record: Any) -> ConsumerRecord[bytes, bytes]:
    offset, value = record.offset, record.value
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", value, None, 0, 0, ())


def _runner(consumer: LogConsumer, publisher: FakePublisher) -> ConsumerRunner:
    return ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=echo,
        publisher=publisher,  # type: ignore[arg-type]
        max_backoff=0.01,
    )


async def test_an_undecodable_batch_is_dead_lettered_as_its_offsets_and_the_loop_moves_on() -> None:
    consumer = LogConsumer(
        {
            P0: batch(0, [b"a", b"b"]) + batch(2, [b"x", b"y", b"z"], codec=5) + batch(5, [b"c"]),
            P1: batch(0, [b"p", b"q"]),
        }
    )
    publisher = FakePublisher(consumer)  # type: ignore[arg-type]
    await _runner(consumer, publisher).run_until_idle()

    out = sorted(r.value for r in publisher.sent if r.topic == "out")
    assert out == [b"a", b"b", b"c", b"p", b"q"]  # each once: P1's first read was not lost
    [dead] = [r for r in publisher.sent if r.topic == "in.dlq"]
    headers = dict(dead.headers)
    assert headers["postino-error-code"] == b"undecodable_batch"
    assert (headers["postino-original-offset"], headers["postino-original-last-offset"]) == (
        b"2",
        b"4",
    )
    assert headers["postino-original-codec"] == b"codec 5"
    assert b"UnsupportedCodecError" in headers["postino-error-detail"]
    assert (dead.key, dead.value) == (None, b"")
    assert consumer.committed_offsets == {P0: 6, P1: 2}


async def test_a_poll_error_that_is_no_batch_s_is_raised_as_before() -> None:
    consumer = LogConsumer({P0: batch(0, [b"a"])})

    async def failing(timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        raise UnsupportedCodecError("not from any batch here")

    consumer.getmany = failing  # type: ignore[method-assign]
    with pytest.raises(UnsupportedCodecError):
        await _runner(consumer, FakePublisher(consumer)).run_until_idle()  # type: ignore[arg-type]
