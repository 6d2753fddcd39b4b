"""A batch whose output the broker will never take: the loop neither waits for ever nor
dies; only the record whose own output is too large goes to its DLQ."""

from __future__ import annotations

from collections.abc import Sequence

from tests.unit.test_runner import TP, FakeConsumer, FakePublisher, _runner
from worker.core.batch import BatchResult, DeadLetter
from worker.core.errors import UnpublishableError
from worker.core.records import OutRecord, Record

LIMIT = 100


class SizeLimitedPublisher(FakePublisher):
    """Refuses, like a broker, any batch holding a record over LIMIT bytes."""

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        if any(len(r.value) + sum(len(v) for _, v in r.headers) > LIMIT for r in records):
            raise UnpublishableError("MessageSizeTooLargeError")
        await super().publish_many(records)


async def grow(records: Sequence[Record]) -> BatchResult:
    """Each record's output is its value ten times over."""
    return BatchResult(out=[OutRecord("out", (r.value or b"") * 10) for r in records])


async def test_only_the_record_whose_output_is_too_large_goes_to_the_dlq() -> None:
    consumer = FakeConsumer([b"a", b"0123456789abc", b"c"])
    publisher = SizeLimitedPublisher(consumer)
    runner = _runner(consumer, publisher, grow)
    assert await runner.run_until_idle() == 3
    assert [r.value for r in publisher.sent if r.topic == "out"] == [b"a" * 10, b"c" * 10]
    [dead] = [r for r in publisher.sent if r.topic == "in.dlq"]
    headers = dict(dead.headers)
    assert headers["postino-error-code"] == b"output_too_large"
    assert headers["postino-original-offset"] == b"1"
    assert dead.value == b"0123456789abc"
    assert consumer.commits == [{TP: 3}]
    assert runner.dead_lettered == 1


async def test_a_dead_letter_too_large_for_its_dlq_goes_there_without_its_bytes() -> None:
    big = b"x" * 95

    async def refuse(records: Sequence[Record]) -> BatchResult:
        return BatchResult(dead=[DeadLetter(r, "refused", "said no") for r in records])

    consumer = FakeConsumer([b"small", big])
    publisher = SizeLimitedPublisher(consumer)
    runner = _runner(consumer, publisher, refuse)
    await runner.run_until_idle()
    dlq = [r for r in publisher.sent if r.topic == "in.dlq"]
    assert [dict(r.headers)["postino-original-offset"] for r in dlq] == [b"0", b"1"]
    assert dlq[0].value == b"small"
    stub = dict(dlq[1].headers)
    assert dlq[1].value == b""
    assert stub["postino-error-code"] == b"refused"
    assert stub["postino-value-omitted"] == b"over the broker's size limit"
    assert consumer.commits == [{TP: 2}]
