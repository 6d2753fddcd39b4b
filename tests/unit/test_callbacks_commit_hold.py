"""The callbacks' safety net: a `messages.status` offset is committed only once every
event below it is settled or has an acknowledged retry-tier copy.

First attempts hold their offsets (`FirstAttempts.commit_bound`); the consumer loop
commits per partition `min(first held offset, last consumed offset + 1)`. Over fakes:
the role's handler and a hand-written consumer and publisher, no broker, no receiver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from schemas.topics import Topic
from tests.fakes import FakeWebhookSender
from tests.unit.callback_helpers import COPY_AFTER, URL, Callbacks, HeldSender, posted
from worker.consumers.runner import ConsumerRunner
from worker.core.errors import RetryableError
from worker.core.records import OutRecord
from worker.services.callback_pool import MAX_WAITING_PER_SERVICE
from worker.services.callback_send import Receiver

TP = TopicPartition(Topic.STATUS, 0)
HANGING = "https://hanging.example.org/hook"


async def test_a_slow_attempt_holds_the_commit_until_the_watchdog_copies_it() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    event = cb.event()
    (record,) = cb.records(event)
    await cb.first([record])
    await posted(cb, 1)
    assert cb.held_from() == record.offset
    cb.clock.advance(COPY_AFTER - 0.5)
    assert await cb.first_attempts.copy_overdue() == 0  # not before its bound
    assert cb.held_from() == record.offset
    cb.clock.advance(0.5)
    assert await cb.first_attempts.copy_overdue() == 1
    (copy,) = cb.copies
    assert copy.topic == Topic.CALLBACKS_RETRY_1 and copy.value == record.value
    assert cb.held_from() is None  # copied: the commit may pass it
    sender.release.set()  # the attempt itself went on, and delivers
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {cb.key(event): "delivered"}


async def test_a_settled_attempt_releases_the_commit() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    await cb.run(True, cb.event())
    await posted(cb, 1)
    assert cb.held_from() == 1
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.held_from() is None and cb.copies == []


async def test_a_transient_failure_is_copied_with_the_first_tier_s_delay_then_released() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")]}))
    cb.publisher.failures = 1  # the broker refuses the first copy: it stays held
    await cb.run(True, cb.event())
    await cb.settle_first_attempts()
    assert cb.copies == [] and cb.held_from() == 1
    cb.clock.advance(COPY_AFTER)
    assert await cb.first_attempts.copy_overdue() == 1  # the watchdog copies it instead
    assert cb.held_from() is None

    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")]}))
    await cb.run(True, cb.event())
    await cb.settle_first_attempts()
    (copy,) = cb.copies
    assert copy.topic == Topic.CALLBACKS_RETRY_1
    due_ms = int(dict(copy.headers)["postino-due-at"])
    assert due_ms == int(cb.clock().timestamp() * 1000) + 10_000  # the tier's own 10 s
    assert cb.held_from() is None


async def test_a_copy_the_broker_never_takes_holds_no_commit_for_ever() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    too_large, fine = cb.event(1), cb.event(2)
    cb.publisher.too_large.add(too_large.value)
    await cb.run(True, too_large, fine)
    await posted(cb, 2)
    cb.clock.advance(COPY_AFTER)
    assert await cb.first_attempts.copy_overdue() == 2
    assert [c.value for c in cb.copies] == [fine.value]  # the other one's copy still went
    assert cb.held_from() is None  # released, logged as callback_copy_unpublishable
    sender.release.set()
    await cb.settle_first_attempts()


async def test_a_full_service_queue_copies_the_event_at_once_and_holds_nothing_for_it() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    records = cb.records(*(cb.event(n) for n in range(MAX_WAITING_PER_SERVICE + 2)))
    result = await cb.first(records)
    assert [copy.value for copy in result.out] == [records[-1].value]
    # the others (one running, the rest waiting) hold the commit from the first
    assert cb.held_from() == records[0].offset
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.held_from() is None


async def test_an_event_consumed_again_while_held_is_copied_not_held_twice() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    event = cb.event()
    await cb.run(True, event)
    await posted(cb, 1)
    again = await cb.run(True, event)  # read again further on (a producer's retry)
    assert len(again.out) == 1 and cb.held_from() == 1
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.held_from() is None


class StatusConsumer:
    """`messages.status` partition 0: serves what is put in `pending`, notes commits."""

    def __init__(self) -> None:
        self.pending: list[ConsumerRecord[bytes, bytes]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    def put(self, offset: int, value: bytes) -> None:
        self.pending.append(
            ConsumerRecord(TP.topic, 0, offset, 0, 0, None, value, None, 0, len(value), ())
        )

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def assign(self, partitions: Sequence[TopicPartition]) -> None: ...

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        batch, self.pending = self.pending, []
        return {TP: batch} if batch else {}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


class Loop:
    """The callbacks' first-attempt handler in the real consumer loop, with its bound."""

    def __init__(self, cb: Callbacks) -> None:
        self.cb = cb
        self.consumer = StatusConsumer()
        self.runner = ConsumerRunner(
            role="callbacks",
            consumer=self.consumer,  # type: ignore[arg-type]
            topics=[TP.topic],
            handler=cb.first,
            publisher=cb.publisher,  # type: ignore[arg-type]
            commit_bound=cb.first_attempts.commit_bound,
        )

    async def read(self, *events: tuple[int, OutRecord]) -> list[dict[TopicPartition, int]]:
        """Consume these (offset, event) in one batch, or poll empty; the commits made."""
        for offset, event in events:
            self.consumer.put(offset, event.value)
        before = len(self.consumer.commits)
        await self.runner.poll_once(timeout_ms=0)
        return self.consumer.commits[before:]


async def until(done: Callable[[], bool]) -> None:
    """Let the background attempts run until `done()` (a bounded number of steps)."""
    for _ in range(10_000):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("the attempts never got there")


def two_receivers() -> tuple[Callbacks, HeldSender]:
    """svc-1 answers at once; svc-2's receiver hangs until released."""
    sender = HeldSender(HANGING)
    cb = Callbacks(sender)
    cb.store.receivers_by_service["svc-2"] = Receiver(HANGING, "s3cret")
    return cb, sender


async def test_with_nothing_held_the_commit_is_the_last_offset_plus_one() -> None:
    cb, _ = two_receivers()
    loop = Loop(cb)
    no_receiver = [cb.event(n, service="svc-without-hook") for n in (1, 2)]
    assert await loop.read((0, no_receiver[0]), (1, no_receiver[1])) == [{TP: 2}]
    assert await loop.read() == []  # an empty poll: nothing moved, nothing committed


async def test_the_committed_offset_never_passes_a_held_event() -> None:
    cb, sender = two_receivers()
    loop = Loop(cb)
    hanging = cb.event(2, service="svc-2")
    # the batch is committed at once: its first attempts have not even started
    assert await loop.read((0, cb.event(1)), (1, hanging), (2, cb.event(3))) == [{TP: 0}]
    await until(lambda: cb.held_from() == 1)  # 0 and 2 delivered, 1 hangs
    assert await loop.read() == [{TP: 1}]
    assert await loop.read((3, cb.event(4))) == []  # still held at 1: nothing moves
    await until(lambda: len(cb.store.outcomes) == 3)
    assert await loop.read() == []
    sender.release.set()
    await cb.settle_first_attempts()
    assert await loop.read() == [{TP: 4}]  # an empty poll commits once the bound moved


async def test_the_watchdog_s_copy_lets_the_commit_pass_a_hanging_attempt() -> None:
    cb, sender = two_receivers()
    loop = Loop(cb)
    assert await loop.read((0, cb.event(1, service="svc-2")), (1, cb.event(2))) == [{TP: 0}]
    await until(lambda: len(cb.store.outcomes) == 1)
    assert await loop.read() == []
    cb.clock.advance(COPY_AFTER)
    await cb.first_attempts.copy_overdue()
    assert [c.topic for c in cb.copies] == [Topic.CALLBACKS_RETRY_1]
    assert await loop.read() == [{TP: 2}]
    sender.release.set()
    await cb.settle_first_attempts()


async def test_a_rebalance_commits_up_to_the_bound_before_the_partition_moves() -> None:
    cb, sender = two_receivers()
    loop = Loop(cb)
    await loop.read((0, cb.event(1)), (1, cb.event(2, service="svc-2")), (2, cb.event(3)))
    await until(lambda: cb.held_from() == 1)
    await loop.runner.revoked([TP])
    assert loop.consumer.commits[-1] == {TP: 1}  # up to the event still held
    cb.clock.advance(COPY_AFTER)
    await cb.first_attempts.copy_overdue()
    before = len(loop.consumer.commits)
    await loop.runner.revoked([TP])  # again, before this process read it again
    assert len(loop.consumer.commits) == before  # forgotten once revoked: the owner redoes
    sender.release.set()
    await cb.settle_first_attempts()


async def test_a_rebalance_commits_what_was_released_since_the_last_batch() -> None:
    cb, sender = two_receivers()
    loop = Loop(cb)
    await loop.read((0, cb.event(1, service="svc-2")), (1, cb.event(2)))
    sender.release.set()
    await cb.settle_first_attempts()
    await loop.runner.revoked([TP])
    assert loop.consumer.commits[-1] == {TP: 2}


async def test_a_held_offset_of_an_earlier_assignment_never_pulls_the_commit_back() -> None:
    cb, sender = two_receivers()
    loop = Loop(cb)
    await loop.read((0, cb.event(1, service="svc-2")))
    await loop.runner.revoked([TP])  # taken away while offset 0 is held ...
    loop.runner.forget([TP])  # ... and given back, another owner having read up to 50
    assert await loop.read((50, cb.event(2))) == [{TP: 50}]  # not 0
    await until(lambda: len(cb.store.outcomes) == 1)  # 50 delivered, 0 still hangs
    assert await loop.read() == [{TP: 51}]
    sender.release.set()
    await cb.settle_first_attempts()
