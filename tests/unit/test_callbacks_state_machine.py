"""callbacks' first attempt, retry copies and settlement, on in-memory fakes of its ports.

The role's own handlers over fakes: no broker, no database, no receiver. How the first
attempts hold the offset commit is specified in `test_callbacks_commit_hold`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from schemas.topics import Topic
from tests.fakes import FakeCallbacks, FakeWebhookSender
from tests.unit.callback_helpers import COPY_AFTER, URL, Callbacks, HeldSender, posted
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord
from worker.services.callback_pool import MAX_WAIT_SECONDS, MAX_WAITING_PER_SERVICE
from worker.services.callback_send import ATTEMPT_HEADER, Receiver


async def test_a_first_attempt_that_delivers_is_settled_and_copied_nowhere() -> None:
    cb = Callbacks(FakeWebhookSender())
    event = cb.event()
    first = await cb.run(True, event)
    await cb.settle_first_attempts()
    assert first.out == [] and cb.copies == []
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    assert len(cb.sender.posts) == 1
    url, body, headers = cb.sender.posts[0]
    assert url == URL and body == event.value and headers["Postino-Signature"].startswith("t=")


async def test_a_transient_failure_is_copied_to_the_first_tier_which_retries_it() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")]}))
    event = cb.event()
    assert (await cb.run(True, event)).out == []
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {}
    (copy,) = cb.copies
    assert copy.topic == Topic.CALLBACKS_RETRY_1
    cb.clock.advance(10)
    retried = await cb.run(False, copy)
    await cb.settle_first_attempts()
    # the retry runs in the background, backed by the next tier's copy (skipped: settled)
    assert [o.topic for o in retried.out] == [Topic.CALLBACKS_RETRY_2]
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    assert len(cb.sender.posts) == 2


async def test_a_failed_retry_goes_to_the_next_tier_with_its_attempt_count() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [RetryableError("503")] * 2}))
    await cb.run(True, cb.event())
    await cb.settle_first_attempts()
    (copy,) = cb.copies
    assert dict(copy.headers)[ATTEMPT_HEADER] == b"1"
    (again,) = (await cb.run(False, copy)).out
    assert again.topic == Topic.CALLBACKS_RETRY_2
    assert dict(again.headers)[ATTEMPT_HEADER] == b"2"


async def test_a_refusal_is_settled_and_never_retried() -> None:
    cb = Callbacks(FakeWebhookSender(errors={URL: [PermanentError("404")]}))
    event = cb.event()
    assert (await cb.run(True, event)).out == []
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {cb.key(event): "refused"}
    assert cb.copies == []
    assert len(cb.sender.posts) == 1


async def test_beyond_the_per_service_bound_an_event_waits_in_process_for_a_slot() -> None:
    cb = Callbacks(FakeWebhookSender(), per_service=1)
    events = [cb.event(n) for n in (1, 2, 3)]
    first = await cb.run(True, *events)
    assert first.out == []  # no copy: each waits for a slot, holding the commit
    await cb.settle_first_attempts()
    # One at a time, each as the one before ended: none waits a retry delay.
    assert [body for _, body, _ in cb.sender.posts] == [e.value for e in events]
    assert cb.store.outcomes == {cb.key(e): "delivered" for e in events}
    assert cb.copies == [] and cb.held_from() is None


async def test_a_waiting_first_attempt_is_never_dropped_by_time() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    hanging, waiting = cb.event(1), cb.event(2)
    await cb.run(True, hanging, waiting)
    await posted(cb, 1)
    cb.clock.advance(COPY_AFTER)
    assert await cb.first_attempts.copy_overdue() == 2  # both copied, both released
    cb.clock.advance(MAX_WAIT_SECONDS + 60)
    await cb.run(True, cb.event(3))  # makes room in the queue: drops stale retries only
    sender.release.set()
    await cb.settle_first_attempts()
    # sent as soon as a slot freed, not a retry delay later; its copy then sends nothing
    assert cb.store.outcomes[cb.key(waiting)] == "delivered"
    for copy in cb.copies:
        assert (await cb.run(False, copy)).out == []
    assert [body for _, body, _ in sender.posts].count(waiting.value) == 1


async def test_a_waiting_retry_that_goes_stale_is_left_to_its_copy() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    hanging, retried = cb.event(1), cb.event(2)
    await cb.run(True, hanging)
    await posted(cb, 1)
    copy = OutRecord(Topic.CALLBACKS_RETRY_1, retried.value, headers=((ATTEMPT_HEADER, b"1"),))
    (next_copy,) = (await cb.run(False, copy)).out  # no slot: it waits, with its copy
    cb.clock.advance(MAX_WAIT_SECONDS + 0.1)
    sender.release.set()
    await cb.settle_first_attempts()
    assert len(sender.posts) == 1  # the waiting retry was dropped, not sent late
    await cb.run(False, next_copy)
    await cb.settle_first_attempts()
    assert cb.store.outcomes[cb.key(retried)] == "delivered"


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


async def test_an_event_of_a_service_without_a_callback_url_produces_nothing() -> None:
    cb = Callbacks(FakeWebhookSender())
    result = await cb.run(True, cb.event(service="svc-without-hook"))
    await cb.settle_first_attempts()
    assert result.out == [] and cb.sender.posts == [] and cb.held_from() is None


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


async def test_a_batch_consumed_again_while_its_attempt_runs_posts_nothing_twice() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    event = cb.event()
    await cb.run(True, event)
    await posted(cb, 1)
    again = await cb.run(True, event)  # a rebalance or a lost commit: the batch again
    await asyncio.sleep(0)
    assert len(sender.posts) == 1
    # a copy instead, in the batch's output (acknowledged before the commit)
    assert [o.topic for o in again.out] == [Topic.CALLBACKS_RETRY_1]
    sender.release.set()
    await cb.settle_first_attempts()
    assert cb.store.outcomes == {cb.key(event): "delivered"}
    assert len(sender.posts) == 1


async def test_a_copy_due_while_its_attempt_still_runs_is_copied_again_not_posted() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    await cb.run(True, cb.event())
    await posted(cb, 1)
    cb.clock.advance(COPY_AFTER)
    await cb.first_attempts.copy_overdue()
    (copy,) = cb.copies
    cb.clock.advance(30)
    (same,) = (await cb.run(False, copy)).out
    assert len(sender.posts) == 1
    assert same.topic == Topic.CALLBACKS_RETRY_1
    assert dict(same.headers)[ATTEMPT_HEADER] == dict(copy.headers)[ATTEMPT_HEADER]
    sender.release.set()
    await cb.settle_first_attempts()
    cb.clock.advance(30)
    assert (await cb.run(False, same)).out == []  # settled by then: nothing more
    assert len(sender.posts) == 1


async def test_the_watchdog_s_copy_waits_until_the_attempt_has_surely_ended() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender)
    cb.deps.settings = replace(cb.deps.settings, timeout_seconds=30.0)
    await cb.run(True, cb.event())
    await posted(cb, 1)
    cb.clock.advance(COPY_AFTER)
    await cb.first_attempts.copy_overdue()
    (copy,) = cb.copies
    due_ms = int(dict(copy.headers)["postino-due-at"])
    # a wait for a slot, then every call timing out (1 x 30 s), plus a second: more
    # than the first tier's own delay (10 s)
    grace = timedelta(seconds=MAX_WAIT_SECONDS + 30.0 + 1)
    assert due_ms == int((cb.clock() + grace).timestamp() * 1000)
    sender.release.set()
    await cb.settle_first_attempts()


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


async def test_beyond_the_waiting_bound_an_event_is_copied_at_once() -> None:
    sender = HeldSender(URL)
    cb = Callbacks(sender, per_service=1)
    events = [cb.event(n) for n in range(MAX_WAITING_PER_SERVICE + 2)]
    first = await cb.run(True, *events)
    (copy,) = first.out  # one sent, the rest waiting, the last copied in the batch
    assert copy.value == events[-1].value
    sender.release.set()
    await cb.settle_first_attempts()
    assert len(sender.posts) == MAX_WAITING_PER_SERVICE + 1
    assert cb.key(events[-1]) not in cb.store.outcomes
    await cb.run(False, copy)
    await cb.settle_first_attempts()
    assert cb.store.outcomes[cb.key(events[-1])] == "delivered"
