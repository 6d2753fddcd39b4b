"""notify's claim / send / retry / expire state machine, on in-memory fakes of its ports.

The role's own handler over fakes: no broker, no database, milliseconds per test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
import structlog

from schemas import codecs
from schemas.enums import Channel, NotificationKind, NotificationStatus
from schemas.events import NotificationRequest, NotificationStatusChanged
from schemas.topics import Topic, Topics
from tests.fakes import Clock, FakeMailer, FakeNotifications, FakePushGateway
from worker import ids
from worker.core.batch import BatchResult, due_from_header
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord, Record
from worker.roles.notify import handler
from worker.services.notify import NotifyDeps
from worker.services.notify_ports import (
    Channels,
    Lease,
    MessageInfo,
    NotificationRow,
    NotifyContext,
    Outcome,
    Push,
    Recipient,
    SenderInfo,
)
from worker.settings import NotifySettings

Stored = tuple[NotificationRow, bool]

CITIZEN = "RSSMRA80A01H501U"
MESSAGE = "01J00000000000000000000001"
SERVICE = "svc-1"


def _context() -> NotifyContext:
    return NotifyContext(
        recipients={CITIZEN: Recipient("mario@example.org", True, ("it",))},
        messages={MESSAGE: MessageInfo("Subject", "Body text of the message", None)},
        senders={SERVICE: SenderInfo("Comune di Roma", False)},
    )


class Notify:
    """The notify handler over fakes, and what it produced."""

    def __init__(self, push: FakePushGateway | None = None, mailer: FakeMailer | None = None):
        self.clock = Clock()
        self.store = FakeNotifications(context=_context())
        self.push = push
        settings = NotifySettings(retry_delays=(10, 60), call_attempts=1)
        deps = NotifyDeps(self.store, Channels(push, mailer), Topics(), settings, self.clock)
        self.handle = handler(deps)
        self.offset = 0

    def request(self, channel: Channel = Channel.PUSH, ttl: float = 3600) -> NotificationRequest:
        return NotificationRequest(
            notification_id=ids.notification_id(MESSAGE, channel, NotificationKind.MESSAGE),
            message_id=MESSAGE,
            fiscal_code=CITIZEN,
            sender_service_id=SERVICE,
            channel=channel,
            deadline=self.clock() + timedelta(seconds=ttl),
        )

    async def run(self, *items: NotificationRequest | OutRecord) -> BatchResult:
        records = []
        for item in items:
            self.offset += 1
            if isinstance(item, OutRecord):
                records.append(
                    Record(item.topic, 0, self.offset, item.key, item.value, 0, item.headers)
                )
            else:
                value = codecs.NOTIFICATION.encode(item)
                records.append(Record(Topic.NOTIFICATIONS, 0, self.offset, None, value, 0))
        return await self.handle(records)

    def row_status(self, request: NotificationRequest) -> NotificationStatus:
        return self.store.rows[request.notification_id].status


def _events(result: BatchResult) -> list[NotificationStatusChanged]:
    found = []
    for record in result.out:
        if record.topic == Topic.STATUS:
            event = codecs.STATUS.decode(record.value)
            assert isinstance(event, NotificationStatusChanged)
            found.append(event)
    return found


def _retries(result: BatchResult) -> list[OutRecord]:
    return [r for r in result.out if r.topic.startswith("notifications.retry.")]


async def test_a_request_is_sent_once_and_a_redelivery_only_re_emits_its_event() -> None:
    notify = Notify(push=FakePushGateway())
    req = notify.request()
    first = await notify.run(req)
    again = await notify.run(req)
    assert notify.push is not None and len(notify.push.sent) == 1
    assert notify.row_status(req) is NotificationStatus.SENT
    assert [e.status for e in _events(first)] == [NotificationStatus.SENT]
    assert _events(again) == _events(first)


async def test_a_transient_failure_waits_in_a_tier_then_the_retry_sends_it() -> None:
    notify = Notify(push=FakePushGateway(errors=[RetryableError("503")]))
    req = notify.request()
    first = await notify.run(req)
    assert notify.row_status(req) is NotificationStatus.THROTTLED
    (retry,) = _retries(first)
    assert retry.topic == Topic.NOTIFICATIONS_RETRY_1
    assert codecs.NOTIFICATION.decode(retry.value).attempt == 1
    due = due_from_header(Record(retry.topic, 0, 0, None, retry.value, 0, retry.headers))
    assert due == (notify.clock() + timedelta(seconds=10)).timestamp()
    notify.clock.advance(10)
    second = await notify.run(retry)
    assert notify.row_status(req) is NotificationStatus.SENT
    assert [e.status for e in _events(first) + _events(second)] == [
        NotificationStatus.THROTTLED,
        NotificationStatus.SENT,
    ]
    assert notify.store.rows[req.notification_id].attempts == 2


async def test_a_refusal_fails_the_channel_for_good() -> None:
    notify = Notify(push=FakePushGateway(errors=[PermanentError("410 gone")]))
    req = notify.request()
    result = await notify.run(req)
    assert notify.row_status(req) is NotificationStatus.FAILED
    assert _retries(result) == []


async def test_a_request_past_its_deadline_expires_without_a_send() -> None:
    notify = Notify(push=FakePushGateway())
    req = notify.request(ttl=5)
    notify.clock.advance(5)
    result = await notify.run(req)
    assert notify.push is not None and notify.push.sent == []
    assert [e.status for e in _events(result)] == [NotificationStatus.EXPIRED]


async def test_a_retry_that_would_miss_the_deadline_expires_instead() -> None:
    notify = Notify(push=FakePushGateway(errors=[RetryableError("timeout")]))
    req = notify.request(ttl=10)
    result = await notify.run(req)
    assert notify.row_status(req) is NotificationStatus.EXPIRED
    assert _retries(result) == []


async def test_a_request_claimed_by_another_consumer_sends_nothing() -> None:
    notify = Notify(push=FakePushGateway())
    req = notify.request()
    now = notify.clock()
    other = Lease("notify@other", now, now + timedelta(seconds=30))
    assert await notify.store.claim([req], other) == {req.notification_id}
    result = await notify.run(req)
    assert notify.push is not None and notify.push.sent == []
    assert result.out == []


async def test_a_claim_whose_lease_expired_is_taken_over_and_sent_once() -> None:
    notify = Notify(push=FakePushGateway())
    req = notify.request()
    now = notify.clock()
    dead = Lease("notify@gone", now, now + timedelta(seconds=30))
    assert await notify.store.claim([req], dead) == {req.notification_id}
    notify.clock.advance(31)
    await notify.run(req)
    assert notify.push is not None and len(notify.push.sent) == 1
    assert notify.row_status(req) is NotificationStatus.SENT


async def test_a_redelivered_earlier_attempt_sends_nothing_and_re_emits_event_and_retry() -> None:
    notify = Notify(push=FakePushGateway(errors=[RetryableError("503")]))
    req = notify.request()
    first = await notify.run(req)
    again = await notify.run(req)  # attempt 0 again, but the row is at attempt 1
    assert notify.push is not None and notify.push.sent == []
    # The redelivery may follow a crash before `first.out` was acknowledged: the retry
    # record is re-emitted too (a duplicate of it is harmless: attempt 1 is claimed once).
    assert _events(again) == _events(first) and _retries(again) == _retries(first)


async def test_a_channel_without_configuration_waits_and_expires_never_fails() -> None:
    notify = Notify(push=None)
    req = notify.request(ttl=30)
    first = await notify.run(req)
    row = notify.store.rows[req.notification_id]
    assert row.status is NotificationStatus.THROTTLED
    (retry,) = _retries(first)
    notify.clock.advance(30)
    await notify.run(retry)
    assert notify.row_status(req) is NotificationStatus.EXPIRED


async def test_an_undecodable_request_is_dead_lettered_alone() -> None:
    notify = Notify(push=FakePushGateway())
    req = notify.request()
    bad = OutRecord(Topic.NOTIFICATIONS, b'{"not": "a request"}')
    result = await notify.run(bad, req)
    assert [d.code for d in result.dead] == ["invalid_notification_request"]
    assert notify.row_status(req) is NotificationStatus.SENT


async def test_a_database_outage_fails_the_batch_as_retryable() -> None:
    notify = Notify(push=FakePushGateway())
    notify.store.down.add("load_batch")
    with pytest.raises(RetryableError):
        await notify.run(notify.request())
    assert notify.push is not None and notify.push.sent == []


class IdsSeenByTheGateway(FakePushGateway):
    """Records the log context bound while each push is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: list[dict[str, object]] = []

    async def send(self, push: Push) -> None:
        self.bound.append(dict(structlog.contextvars.get_contextvars()))
        await super().send(push)


async def test_every_log_line_of_a_send_carries_its_message_and_service_ids() -> None:
    gateway = IdsSeenByTheGateway()
    notify = Notify(push=gateway)
    await notify.run(notify.request())

    [seen] = gateway.bound
    assert (seen["message_id"], seen["service_id"]) == (MESSAGE, SERVICE)
    assert "message_id" not in structlog.contextvars.get_contextvars()  # unbound after


class FlakyOutcomes(FakeNotifications):
    """Outcomes fail `failures` times (the database is down), the clock moving on by
    `step` seconds at each failure."""

    def __init__(self, notify: Notify, failures: int, step: float) -> None:
        super().__init__(context=notify.store.context)
        self.clock, self.failures, self.step = notify.clock, failures, step

    async def record_outcomes(self, outcomes: Sequence[Outcome]) -> list[Stored]:
        if self.failures:
            self.failures -= 1
            self.clock.advance(self.step)
            raise RetryableError("database unavailable (record_outcomes)")
        return await super().record_outcomes(outcomes)


def _flaky(failures: int, step: float) -> tuple[Notify, FlakyOutcomes]:
    notify = Notify(push=FakePushGateway())
    store = FlakyOutcomes(notify, failures, step)
    deps = NotifyDeps(
        store,
        Channels(notify.push, None),
        Topics(),
        NotifySettings(retry_delays=(10, 60), call_attempts=1, lease_seconds=30),
        notify.clock,
    )
    notify.store, notify.handle = store, handler(deps)
    return notify, store


async def test_an_outcome_is_retried_while_its_lease_runs_and_then_recorded() -> None:
    notify, _ = _flaky(failures=2, step=10)
    requests = [notify.request(Channel.PUSH), notify.request(Channel.EMAIL)]

    result = await notify.run(*requests)

    assert notify.push is not None and len(notify.push.sent) == 1
    assert notify.row_status(requests[0]) is NotificationStatus.SENT
    assert len(_events(result)) == 2


async def test_an_outcome_still_unwritten_when_its_lease_ends_fails_the_batch() -> None:
    notify, store = _flaky(failures=10, step=20)
    req = notify.request()

    with pytest.raises(RetryableError):
        await notify.run(req)

    assert notify.push is not None and len(notify.push.sent) == 1
    row = store.rows[req.notification_id]
    assert row.status is NotificationStatus.THROTTLED and row.claimed_by == "notify"


@pytest.mark.parametrize(("failures", "status"), [(1, "SENT"), (2, "THROTTLED")])
async def test_a_call_is_tried_again_in_process_up_to_its_call_attempts(
    failures: int, status: str
) -> None:
    push = FakePushGateway(errors=[RetryableError("503")] * failures)
    notify = Notify(push=push)
    deps = NotifyDeps(
        notify.store,
        Channels(push, None),
        Topics(),
        NotifySettings(retry_delays=(10, 60), call_attempts=2),
        notify.clock,
    )
    notify.handle = handler(deps)
    req = notify.request()

    await notify.run(req)

    assert notify.row_status(req) is NotificationStatus(status)
    assert len(push.sent) == (1 if status == "SENT" else 0) and not push.errors
    assert notify.store.rows[req.notification_id].attempts == 1
