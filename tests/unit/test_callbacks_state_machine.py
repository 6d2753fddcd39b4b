"""callbacks' first attempt, retry copy and settlement, on in-memory fakes of its ports.

The role's own handlers over fakes: no broker, no database, no receiver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic, Topics
from tests.fakes import Clock, FakeCallbacks, FakeWebhookSender
from worker.core.batch import BatchResult
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord, Record
from worker.roles.callbacks import handlers
from worker.services.callback_pool import MAX_WAIT_SECONDS, MAX_WAITING_PER_SERVICE, FirstAttempts
from worker.services.callback_send import ATTEMPT_HEADER, CallbackDeps, Receiver, event_key
from worker.settings import CallbackSettings

SERVICE = "svc-1"
URL = "https://sender.example.org/hook"


class Callbacks:
    def __init__(self, sender: FakeWebhookSender, per_service: int = 10) -> None:
        self.clock = Clock()
        self.store = FakeCallbacks({SERVICE: Receiver(URL, "s3cret")})
        self.sender = sender
        settings = CallbackSettings(
            timeout_seconds=1.0,
            retry_delays=(10, 60),
            call_attempts=1,
            max_in_flight_per_service=per_service,
        )
        self.deps = CallbackDeps(self.store, sender, Topics(), settings, self.clock)
        self.first_attempts = FirstAttempts(self.deps)
        self.first, self.retry = handlers(self.deps, self.first_attempts)
        self.offset = 0

    def event(self, n: int = 1, service: str = SERVICE) -> OutRecord:
        event = MessageStatusChanged(
            message_id=f"01J0000000000000000000000{n}",
            sender_service_id=service,
            seq=1,
            at=self.clock(),
            status=MessageStatus.PROCESSED,
        )
        return OutRecord(Topic.STATUS, codecs.STATUS.encode(event))

    async def run(self, handle_first: bool, *items: OutRecord) -> BatchResult:
        records = []
        for item in items:
            self.offset += 1
            records.append(
                Record(item.topic, 0, self.offset, item.key, item.value, 0, item.headers)
            )
        return await (self.first if handle_first else self.retry)(records)

    async def settle_first_attempts(self) -> None:
        for _ in range(100_000):  # polls the background tasks: each ends in a few steps
            if not self.first_attempts.in_flight:
                return
            await asyncio.sleep(0)
        raise AssertionError("first attempts still in flight")

    def key(self, record: OutRecord) -> str:
        return event_key(SERVICE, record.value)


async def test_a_first_attempt_delivers_and_its_retry_copy_then_sends_nothing() -> None:
    cb = Callbacks(FakeWebhookSender())
    event = cb.event()
    first = await cb.run(True, event)
    await cb.settle_first_attempts()
    (copy,) = first.out
    assert copy.topic == Topic.CALLBACKS_RETRY_1
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    cb.clock.advance(10)
    assert (await cb.run(False, copy)).out == []
    assert len(cb.sender.posts) == 1
    url, body, headers = cb.sender.posts[0]
    assert url == URL and body == event.value and headers["Postino-Signature"].startswith("t=")


async def test_the_copy_waits_until_the_first_attempt_has_surely_ended() -> None:
    cb = Callbacks(FakeWebhookSender())
    (copy,) = (await cb.run(True, cb.event())).out
    await cb.settle_first_attempts()
    due_ms = int(dict(copy.headers)["postino-due-at"])
    # the first tier (10 s) here outlasts the grace of twice the timeout plus one second
    assert due_ms == int((cb.clock() + timedelta(seconds=10)).timestamp() * 1000)


async def test_a_transient_failure_leaves_the_event_to_its_copy_which_retries() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")]}))
    event = cb.event()
    (copy,) = (await cb.run(True, event)).out
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {}
    cb.clock.advance(10)
    retried = await cb.run(False, copy)
    await cb.settle_first_attempts()
    # the retry runs in the background, backed by the next tier's copy (skipped: settled)
    assert [o.topic for o in retried.out] == [Topic.CALLBACKS_RETRY_2]
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    assert len(cb.sender.posts) == 2


async def test_a_failed_retry_goes_to_the_next_tier_with_its_attempt_count() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")] * 2}))
    (copy,) = (await cb.run(True, cb.event())).out
    await cb.settle_first_attempts()
    (again,) = (await cb.run(False, copy)).out
    assert again.topic == Topic.CALLBACKS_RETRY_2
    assert dict(again.headers)["postino-attempt"] == b"2"


async def test_a_refusal_is_settled_and_never_retried() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [PermanentError("404")]}))
    event = cb.event()
    (copy,) = (await cb.run(True, event)).out
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {cb.key(event): "refused"}
    assert (await cb.run(False, copy)).out == []
    assert len(cb.sender.posts) == 1


async def test_beyond_the_per_service_bound_an_event_waits_in_process_for_a_slot() -> None:
    cb = Callbacks(FakeWebhookSender(), per_service=1)
    events = [cb.event(n) for n in (1, 2, 3)]
    first = await cb.run(True, *events)
    assert len(first.out) == 3  # each has its copy all the same
    await cb.settle_first_attempts()
    # One at a time, each as the one before ended: none waits a retry delay.
    assert [body for _, body, _ in cb.sender.posts] == [e.value for e in events]
    assert cb.store.outcomes == {cb.key(e): "delivered" for e in events}
    for copy in first.out:
        assert (await cb.run(False, copy)).out == []
    assert len(cb.sender.posts) == 3


class HeldSender(FakeWebhookSender):
    """Holds every POST to `held` until released."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.release = asyncio.Event()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        await super().post(url, body, headers)
        if url == self.held:
            await self.release.wait()


async def test_a_waiting_event_that_goes_stale_is_left_to_its_copy() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    hanging, waiting = cb.event(1), cb.event(2)
    first = await cb.run(True, hanging, waiting)
    await asyncio.sleep(0)
    cb.clock.advance(MAX_WAIT_SECONDS + 0.1)
    sender.release.set()
    await cb.settle_first_attempts()
    assert len(sender.posts) == 1  # the waiting one was dropped, not sent late
    assert cb.key(waiting) not in cb.store.outcomes
    for copy in first.out:
        await cb.run(False, copy)
    await cb.settle_first_attempts()
    assert [body for _, body, _ in sender.posts] == [hanging.value, waiting.value]


async def test_a_hanging_receiver_holds_its_own_service_s_events_only() -> None:
    other_url = "https://other.example.org/hook"
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    cb.store.receivers_by_service["svc-2"] = Receiver(other_url, "s3cret")
    await cb.run(True, cb.event(1), cb.event(2), cb.event(3, service="svc-2"))
    for _ in range(100):
        await asyncio.sleep(0)
    assert [url for url, _, _ in sender.posts] == [URL, other_url]
    sender.release.set()
    await cb.settle_first_attempts()
    assert len(sender.posts) == 3


async def test_beyond_the_waiting_bound_an_event_waits_for_its_copy() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    events = [cb.event(n) for n in range(MAX_WAITING_PER_SERVICE + 2)]
    first = await cb.run(True, *events)
    sender.release.set()
    await cb.settle_first_attempts()
    assert len(sender.posts) == MAX_WAITING_PER_SERVICE + 1  # one sent, the rest waited
    assert cb.key(events[-1]) not in cb.store.outcomes
    await cb.run(False, first.out[-1])
    await cb.settle_first_attempts()
    assert cb.store.outcomes[cb.key(events[-1])] == "delivered"


async def test_an_event_of_a_service_without_a_callback_url_produces_nothing() -> None:
    cb = Callbacks(FakeWebhookSender())
    result = await cb.run(True, cb.event(service="svc-without-hook"))
    await cb.settle_first_attempts()
    assert result.out == [] and cb.sender.posts == []


async def test_a_retry_over_the_bound_keeps_its_tier_and_may_still_run_from_the_queue() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    hanging, retried = cb.event(1), cb.event(2)
    await cb.run(True, hanging)
    copy = OutRecord(Topic.CALLBACKS_RETRY_1, retried.value, headers=((ATTEMPT_HEADER, b"1"),))
    (next_copy,) = (await cb.run(False, copy)).out
    # No attempt was made yet: its copy counts none and stays in the same tier.
    assert next_copy.topic == Topic.CALLBACKS_RETRY_1
    assert dict(next_copy.headers)[ATTEMPT_HEADER] == b"1"
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.store.outcomes[cb.key(retried)] == "delivered"  # sent from the queue
    assert (await cb.run(False, next_copy)).out == []


async def posted(cb: Callbacks, count: int) -> None:
    for _ in range(1000):
        if len(cb.sender.posts) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{len(cb.sender.posts)} posts, not {count}")


async def test_a_batch_consumed_again_while_its_attempt_runs_posts_nothing_twice() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    event = cb.event()
    await cb.run(True, event)
    await posted(cb, 1)
    again = await cb.run(True, event)  # a rebalance or a lost commit: the batch again
    await asyncio.sleep(0)
    assert len(sender.posts) == 1
    assert [o.topic for o in again.out] == [Topic.CALLBACKS_RETRY_1]  # its copy all the same
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    assert len(sender.posts) == 1


async def test_a_copy_due_while_its_attempt_still_runs_is_copied_again_not_posted() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    (copy,) = (await cb.run(True, cb.event())).out
    await posted(cb, 1)
    cb.clock.advance(10)
    (same,) = (await cb.run(False, copy)).out
    assert len(sender.posts) == 1
    assert same.topic == Topic.CALLBACKS_RETRY_1
    assert dict(same.headers)["postino-attempt"] == dict(copy.headers)["postino-attempt"]
    sender.release.set()
    await cb.settle_first_attempts()
    cb.clock.advance(10)
    assert (await cb.run(False, same)).out == []  # settled by then: nothing more
    assert len(sender.posts) == 1


class HeldStore(FakeCallbacks):
    """Settles wait until released (a slow database)."""

    def __init__(self, receivers: dict[str, Receiver]) -> None:
        super().__init__(receivers)
        self.release = asyncio.Event()

    async def settle(self, key: str, outcome: str) -> None:
        await self.release.wait()
        await super().settle(key, outcome)


async def test_a_slow_settlement_does_not_hold_its_service_s_next_post() -> None:
    cb = Callbacks(FakeWebhookSender(), per_service=1)
    cb.store = HeldStore(cb.store.receivers_by_service)
    cb.deps.store = cb.store
    first, second = cb.event(1), cb.event(2)
    await cb.run(True, first, second)
    await posted(cb, 2)  # the second POST went out while the first still settles
    assert cb.store.outcomes == {}
    cb.store.release.set()
    await cb.settle_first_attempts()
    assert set(cb.store.outcomes) == {cb.key(first), cb.key(second)}
