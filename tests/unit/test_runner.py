"""The generic at-least-once loop, over hand-written fakes of the consumer and publisher."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from worker.consumers.runner import DUE_STEP_SECONDS, ConsumerRunner
from worker.core.batch import BatchResult, DeadLetter, due_from_header, due_header
from worker.core.errors import RetryableError
from worker.core.records import OutRecord, Record

TP = TopicPartition("in", 0)


def _record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("in", 0, offset, 1000 + offset, 0, b"k", value, None, 1, len(value), ())


class FakeConsumer:
    def __init__(self, values: list[bytes]) -> None:
        self.pending = [_record(i, v) for i, v in enumerate(values)]
        self.commits: list[dict[TopicPartition, int]] = []
        self.end: int | None = len(values)
        self.log: list[str] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], listener: Any = None) -> None: ...

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        batch, self.pending = self.pending, []
        return {TP: batch} if batch else {}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.end

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append("commit")
        self.commits.append(offsets)


class FakePublisher:
    def __init__(self, consumer: FakeConsumer, failures: int = 0) -> None:
        self.sent: list[OutRecord] = []
        self._consumer = consumer
        self._failures = failures

    async def publish(self, record: OutRecord) -> tuple[int, int]:
        await self.publish_many([record])
        return 0, 0

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        if self._failures:
            self._failures -= 1
            raise RetryableError("broker down")
        self._consumer.log.append(f"publish {len(records)}")
        self.sent += records


def _runner(consumer: FakeConsumer, publisher: FakePublisher, handler: Any) -> ConsumerRunner:
    return ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=handler,
        publisher=publisher,  # type: ignore[arg-type]
        max_backoff=0.01,
    )


async def echo(records: Sequence[Record]) -> BatchResult:
    dead = [DeadLetter(r, "bad", "said bad") for r in records if r.value == b"bad"]
    out = [OutRecord("out", r.value or b"") for r in records if r.value != b"bad"]
    return BatchResult(out=out, dead=dead)


async def test_offsets_are_committed_only_after_the_follow_up_records_are_acknowledged() -> None:
    consumer = FakeConsumer([b"a", b"b"])
    runner = _runner(consumer, FakePublisher(consumer), echo)
    assert await runner.run_until_idle() == 2
    assert consumer.log == ["publish 2", "commit"]
    assert consumer.commits == [{TP: 2}]


async def test_a_rejected_record_goes_to_the_dlq_with_its_reason_and_origin() -> None:
    consumer = FakeConsumer([b"a", b"bad", b"c"])
    publisher = FakePublisher(consumer)
    await _runner(consumer, publisher, echo).run_until_idle()
    dlq = [r for r in publisher.sent if r.topic == "in.dlq"]
    assert len(dlq) == 1
    headers = dict(dlq[0].headers)
    assert headers["postino-error-code"] == b"bad"
    assert headers["postino-original-offset"] == b"1"
    assert headers["postino-original-topic"] == b"in"
    assert [r.value for r in publisher.sent if r.topic == "out"] == [b"a", b"c"]


async def test_a_record_that_crashes_the_handler_is_isolated_and_dead_lettered() -> None:
    async def fragile(records: Sequence[Record]) -> BatchResult:
        if any(r.value == b"boom" for r in records):
            raise ValueError("cannot handle boom")
        return await echo(records)

    consumer = FakeConsumer([b"a", b"boom", b"c"])
    publisher = FakePublisher(consumer)
    await _runner(consumer, publisher, fragile).run_until_idle()
    dlq = [r for r in publisher.sent if r.topic == "in.dlq"]
    assert [dict(r.headers)["postino-error-code"] for r in dlq] == [b"processing_error"]
    assert [r.value for r in publisher.sent if r.topic == "out"] == [b"a", b"c"]
    assert consumer.commits == [{TP: 3}]


async def test_a_transient_failure_retries_the_same_batch_until_it_succeeds() -> None:
    calls = 0

    async def flaky(records: Sequence[Record]) -> BatchResult:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RetryableError("database restarting")
        return await echo(records)

    consumer = FakeConsumer([b"a"])
    publisher = FakePublisher(consumer, failures=2)
    await _runner(consumer, publisher, flaky).run_until_idle()
    assert calls == 3
    assert [r.value for r in publisher.sent] == [b"a"]
    assert consumer.commits == [{TP: 1}]


async def test_stopping_while_the_broker_is_down_leaves_the_batch_uncommitted() -> None:
    consumer = FakeConsumer([b"a"])
    publisher = FakePublisher(consumer, failures=10**6)
    runner = _runner(consumer, publisher, echo)

    async def stop_soon(records: Sequence[Record]) -> BatchResult:
        runner.request_stop()
        return await echo(records)

    runner._handler = stop_soon
    await runner.poll_once(timeout_ms=0)
    assert consumer.commits == []


def test_error_text_in_a_dead_letter_carries_no_personal_data() -> None:
    from worker.consumers.runner import safe_error_text

    exc = ValueError(
        "new row violates check constraint for RSSMRA80A01H501U (mario@example.org)\n"
        "DETAIL:  Failing row contains (RSSMRA80A01H501U, Avviso TARI, ...)"
    )
    text = safe_error_text(exc)
    assert "RSSMRA80A01H501U" not in text
    assert "mario@example.org" not in text
    assert "Failing row" not in text
    assert text.startswith("new row violates check constraint")


async def test_lag_is_measured_from_the_fetch_high_watermark() -> None:
    from worker import metrics

    consumer = FakeConsumer([b"a", b"b"])
    consumer.end = 7
    await _runner(consumer, FakePublisher(consumer), echo).run_until_idle()
    assert metrics.LAG.labels(role="test", topic="in")._value.get() == 5


class ScheduledConsumer(FakeConsumer):
    """The fake consumer, plus what the loop does to a partition whose next record is
    not due yet (seek back, pause, resume)."""

    def __init__(self, values: list[bytes], headers: list[tuple[tuple[str, bytes], ...]]) -> None:
        super().__init__(values)
        self.pending = [
            ConsumerRecord("in", 0, i, 1000 + i, 0, b"k", v, None, 1, len(v), h)
            for i, (v, h) in enumerate(zip(values, headers, strict=True))
        ]
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: set[TopicPartition] = set()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def pause(self, tp: TopicPartition) -> None:
        self.paused.add(tp)

    def resume(self, tp: TopicPartition) -> None:
        self.paused.discard(tp)

    def assignment(self) -> set[TopicPartition]:
        return {TP}


async def test_a_partition_pauses_on_its_first_record_not_due_until_a_step_after() -> None:
    now = 1_000_000.0
    headers = [(due_header(now - 1),), (due_header(now + 10.1),), (due_header(now + 10.2),)]
    consumer = ScheduledConsumer([b"due", b"later", b"later too"], headers)
    publisher = FakePublisher(consumer)
    runner = ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=echo,
        publisher=publisher,  # type: ignore[arg-type]
        due_at=due_from_header,
        clock=lambda: now,
    )
    assert await runner.poll_once(timeout_ms=0) == 1
    assert [r.value for r in publisher.sent] == [b"due"]
    assert consumer.commits == [{TP: 1}]
    assert consumer.seeks == [(TP, 1)] and consumer.paused == {TP}
    # Resumed on the step after the first record's due time, not before it: records
    # that come due just behind it are fetched with it.
    resume_at = runner._paused[TP]
    assert now + 10.1 <= resume_at <= now + 10.1 + DUE_STEP_SECONDS
    assert resume_at % DUE_STEP_SECONDS == 0
