"""The generic at-least-once loop, over hand-written fakes of the consumer and publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError

from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult, DeadLetter
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

    def assignment(self) -> set[TopicPartition]:
        return {TP}

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


def _runner(
    consumer: FakeConsumer, publisher: FakePublisher, handler: Any, **options: Any
) -> ConsumerRunner:
    return ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=handler,
        publisher=publisher,  # type: ignore[arg-type]
        max_backoff=0.01,
        **options,
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
    from worker.logs import safe_error_text

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
    """Serves the same pending records until the runner commits past them; knows
    pause, resume and seek as far as the runner uses them."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        super().__init__([])
        self.pending = records
        self.paused: set[TopicPartition] = set()
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.fetches = 0

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        if TP in self.paused or not self.pending:
            return {}
        self.fetches += 1
        return {TP: list(self.pending)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await super().commit(offsets)
        self.pending = [r for r in self.pending if r.offset >= offsets[TP]]

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def pause(self, tp: TopicPartition) -> None:
        self.paused.add(tp)

    def resume(self, tp: TopicPartition) -> None:
        self.paused.discard(tp)


def _due_record(offset: int, produced: float, due: float) -> ConsumerRecord[bytes, bytes]:
    value = str(due).encode()
    return ConsumerRecord(
        "in", 0, offset, int(produced * 1000), 0, b"k", value, None, 1, len(value), ()
    )


def _scheduled(
    consumer: ScheduledConsumer,
    handler: Any,
    clock: Callable[[], float],
    resume_slack: float = 0.0,
    publisher: FakePublisher | None = None,
) -> ConsumerRunner:
    """A runner of a retry tier: due times are the records' values."""
    return ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=handler,
        publisher=publisher or FakePublisher(consumer),  # type: ignore[arg-type]
        due_at=lambda r: float(r.value or b"0"),
        clock=clock,
        resume_slack=resume_slack,
    )


async def test_a_paused_retry_partition_resumes_with_slack_and_takes_what_came_due() -> None:
    """A 10 s retry due at 100 resumes at 101 (slack: a tenth of the delay, at most
    `resume_slack`), and that one fetch hands over every record due by then."""
    now = [95.0]
    consumer = ScheduledConsumer(
        [_due_record(0, 90.0, 100.0), _due_record(1, 90.5, 100.5), _due_record(2, 92.0, 102.0)]
    )
    handled: list[list[int]] = []

    async def handler(records: Sequence[Record]) -> BatchResult:
        handled.append([r.offset for r in records])
        return BatchResult()

    runner = _scheduled(consumer, handler, lambda: now[0], resume_slack=5.0)
    assert await runner.poll_once(timeout_ms=0) == 0  # nothing due: paused
    for at in (100.0, 100.6, 100.99):
        now[0] = at
        assert await runner.poll_once(timeout_ms=0) == 0  # due, but inside the slack
    assert consumer.fetches == 1
    now[0] = 101.0
    assert await runner.poll_once(timeout_ms=0) == 2
    assert handled == [[0, 1]]
    assert consumer.commits[-1] == {TP: 2}


async def test_a_short_retry_delay_keeps_a_short_slack() -> None:
    """A 0.2 s delay (as tests and tight settings use) is late by at most 20 ms."""
    now = [99.9]
    consumer = ScheduledConsumer([_due_record(0, 99.9, 100.1)])

    async def handler(records: Sequence[Record]) -> BatchResult:
        return BatchResult()

    runner = _scheduled(consumer, handler, lambda: now[0], resume_slack=1.0)
    assert await runner.poll_once(timeout_ms=0) == 0
    now[0] = 100.115
    assert await runner.poll_once(timeout_ms=0) == 0
    now[0] = 100.121
    assert await runner.poll_once(timeout_ms=0) == 1


async def test_a_partition_pauses_on_its_first_record_not_due() -> None:
    """The due prefix is handled and committed; the loop seeks back to the first record
    not due and pauses the partition until then (no slack unless given one); the
    records behind it are not converted."""
    now = 1_000_000.0
    records = [(0, now - 11, now - 1), (1, now, now + 10.1), (2, now, now + 10.2)]
    consumer = ScheduledConsumer([_due_record(*r) for r in records])
    publisher = FakePublisher(consumer)
    runner = _scheduled(consumer, echo, lambda: now, publisher=publisher)
    assert await runner.poll_once(timeout_ms=0) == 1
    assert [r.value for r in publisher.sent] == [str(now - 1).encode()]
    assert consumer.commits == [{TP: 1}]
    assert consumer.seeks == [(TP, 1)] and consumer.paused == {TP}
    assert runner.due._paused[TP] == now + 10.1


class CountingConsumer(FakeConsumer):
    def __init__(self, values: list[bytes]) -> None:
        super().__init__(values)
        self.polls = 0

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        self.polls += 1
        await asyncio.sleep(0)
        return await super().getmany(timeout_ms)


async def test_a_small_batch_is_followed_by_the_linger_and_a_stop_ends_it_at_once() -> None:
    """With a linger, `run()` does not poll again for a while after a small batch; a
    stop during that wait ends the loop without waiting it out."""
    consumer = CountingConsumer([b"one", b"two"])
    handled = asyncio.Event()

    async def handler(records: Sequence[Record]) -> BatchResult:
        handled.set()
        return BatchResult()

    runner = ConsumerRunner(
        role="test",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["in"],
        handler=handler,
        publisher=FakePublisher(consumer),  # type: ignore[arg-type]
        linger=30.0,
    )
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(handled.wait(), timeout=5)
    await asyncio.sleep(0.05)
    assert consumer.polls == 1  # lingering after the batch of two, not polling
    runner.request_stop()
    await asyncio.wait_for(task, timeout=5)


class StuckCommitConsumer(CountingConsumer):
    """A coordinator that never acknowledges a commit (aiokafka retries for ever)."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append("commit")
        await asyncio.Event().wait()


async def test_a_commit_that_never_ends_does_not_hold_the_loop_or_its_stop() -> None:
    consumer = StuckCommitConsumer([b"one", b"two"])
    publisher = FakePublisher(consumer)
    runner = _runner(consumer, publisher, echo, commit_timeout=0.05)
    task = asyncio.create_task(runner.run())
    for _ in range(200):
        if consumer.log.count("commit") == 1 and runner.processed == 2:
            break
        await asyncio.sleep(0.01)
    assert runner.processed == 2  # the batch counts as handled: its records are out
    assert [r.value for r in publisher.sent] == [b"one", b"two"]
    runner.request_stop()
    await asyncio.wait_for(task, timeout=5)


class RebalancedConsumer(FakeConsumer):
    """A group that rebalanced under the first batch: its commit fails, as on Kafka
    when a member missed a heartbeat or another member joined."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.append("commit")
        if len(self.commits) == 0:
            self.commits.append({})
            raise CommitFailedError("the group rebalanced")
        self.commits.append(offsets)


async def test_a_commit_lost_to_a_rebalance_does_not_stop_the_role() -> None:
    """The batch stays uncommitted (its next owner redoes it) and the loop goes on."""
    consumer = RebalancedConsumer([b"one"])
    publisher = FakePublisher(consumer)
    runner = _runner(consumer, publisher, echo)
    assert await runner.poll_once(timeout_ms=0) == 1
    consumer.pending = [_record(1, b"two")]
    assert await runner.poll_once(timeout_ms=0) == 1
    assert consumer.commits == [{}, {TP: 2}]
    assert [r.value for r in publisher.sent] == [b"one", b"two"]
