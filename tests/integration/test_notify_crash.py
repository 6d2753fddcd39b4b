"""notify under crashes: outcomes recorded per send, claims with an owner and a lease.

A crash (kill -9) of notify at any point strands nothing for longer than the lease,
and a restarted instance re-drives its own stranded sends at once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from devkit.sinks import DevSinks
from schemas import codecs
from schemas.enums import Channel, NotificationStatus
from schemas.topics import Topic
from tests.conftest import eventually
from tests.integration.notify_helpers import (
    CITIZEN,
    Receiver,
    publish_requests,
    request,
    serving,
)
from tests.integration.test_notify_pipeline import (
    MESSAGE_ID,
    _notify_runtime,
    _push_and_email,
    _rows,
    _setup,
    notifying,
    sinks,
)
from worker.adapters.notifications_repo import PostgresNotifications
from worker.bootstrap import Runtime, notify_channels
from worker.core.records import Record
from worker.roles import notify
from worker.services.notify import NotifyDeps, notify_batch

__all__ = ["sinks"]  # the fixture, shared with the pipeline tests


async def _claimed_row(runtime: Runtime, service_id: str, owner: str, lease: str) -> str:
    """A PUSH row as a notify instance leaves it when it dies mid-send."""
    req = request(MESSAGE_ID, service_id, Channel.PUSH)
    await runtime.pool.execute(
        "INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel,"
        " kind, status, attempts, deadline, claimed_at, claimed_by, lease_until) VALUES"
        f" ($1, $2, $3, $4, 'PUSH', 'MESSAGE', 'THROTTLED', 0, $5, now(), $6, {lease})",
        req.notification_id,
        MESSAGE_ID,
        CITIZEN,
        service_id,
        req.deadline,
        owner,
    )
    return req.notification_id


async def test_each_outcome_is_recorded_right_after_its_send_not_at_the_end_of_the_batch(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    hang = asyncio.Event()
    async with serving(Receiver(hang=hang)) as push:
        rt = _notify_runtime(runtime, sinks, push)
        await _push_and_email(rt, service_id)
        async with notifying(rt):
            # The push hangs in flight; the e-mail of the same batch is already settled.
            rows = await eventually(
                lambda: _rows(runtime), lambda r: r.get("EMAIL", ("", 0))[0] == "SENT"
            )
            assert rows["PUSH"] == ("THROTTLED", 0)
            claim = await runtime.pool.fetchrow(
                "SELECT claimed_by, lease_until - claimed_at AS lease FROM notifications"
                " WHERE channel = 'PUSH'"
            )
            assert claim is not None
            assert claim["claimed_by"] == notify.owner_name(rt)
            assert claim["lease"] == timedelta(seconds=rt.settings.notify.lease_seconds)
            hang.set()
            rows = await eventually(lambda: _rows(runtime), lambda r: r["PUSH"][0] == "SENT")
    assert rows == {"PUSH": ("SENT", 1), "EMAIL": ("SENT", 1)}
    assert len(push.calls) == 1


async def test_a_restarted_notify_redrives_the_sends_its_previous_life_left_at_once(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    async with serving(Receiver()) as push:
        rt = _notify_runtime(runtime, sinks, push, lease_seconds=3600)
        owner = notify.owner_name(rt)
        await _claimed_row(runtime, service_id, owner, "now() + interval '1 hour'")
        stop = asyncio.Event()
        task = asyncio.create_task(notify.run(rt, stop))
        try:
            # Long before the hour-long lease: the restart ended its own leases.
            rows = await eventually(lambda: _rows(runtime), lambda r: r["PUSH"][0] == "SENT")
        finally:
            stop.set()
            await task
    assert rows["PUSH"] == ("SENT", 1)
    assert len(push.calls) == 1


async def test_a_dead_instances_claim_is_left_alone_until_its_lease_expires_then_redriven(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    async with serving(Receiver()) as push:
        rt = _notify_runtime(runtime, sinks, push)
        await _claimed_row(runtime, service_id, "notify@gone", "now() + interval '20 seconds'")
        now = notify.utc_now()
        assert (await notify.sweep_once(rt, now)).redriven == 0
        # Its redelivered request is skipped while the lease runs ...
        await publish_requests(rt, request(MESSAGE_ID, service_id, Channel.PUSH))
        async with notifying(rt):
            await eventually(lambda: _rows(runtime), lambda r: "PUSH" in r)
        assert push.calls == []
        # ... and the sweeper re-drives it as soon as the lease has expired.
        assert (await notify.sweep_once(rt, now + timedelta(seconds=21))).redriven == 1
        async with notifying(rt):
            rows = await eventually(lambda: _rows(runtime), lambda r: r["PUSH"][0] == "SENT")
    assert rows["PUSH"] == ("SENT", 1)
    assert len(push.calls) == 1


async def test_a_second_live_process_with_the_same_instance_name_takes_over_nothing(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    owner = notify.owner_name(runtime)
    await _claimed_row(runtime, service_id, owner, "now() + interval '1 hour'")
    first, first_lock = await notify.take_over(runtime)
    try:
        second, second_lock = await notify.take_over(runtime)
        await second_lock.release()
    finally:
        await first_lock.release()
    assert first == owner
    assert second != owner and second.startswith(owner)
    lease = await runtime.pool.fetchval("SELECT lease_until > now() FROM notifications")
    assert lease is False  # the first take-over ended it; the second touched nothing new


async def test_a_batch_redone_after_a_crash_re_emits_the_event_and_the_retry_of_a_recorded_send(
    runtime: Runtime, sinks: DevSinks
) -> None:
    service_id = await _setup(runtime)
    async with serving(Receiver(failures=1)) as push:
        rt = _notify_runtime(runtime, sinks, push)
        settings = rt.settings
        req = request(MESSAGE_ID, service_id, Channel.PUSH)
        record = Record("t", 0, 0, CITIZEN.encode(), codecs.NOTIFICATION.encode(req), 0)
        async with notify_channels(settings.notify) as channels:
            store = PostgresNotifications(rt.pool)
            deps = NotifyDeps(
                store, channels, settings.kafka.topics, settings.notify, notify.utc_now
            )
            first = await notify_batch([record], deps)
            # The crash came before `first.out` was acknowledged: the batch is redone.
            again = await notify_batch([record], deps)
    assert len(push.calls) == 1
    retry_topic = settings.kafka.topics.name(Topic.NOTIFICATIONS_RETRY_1)
    assert sorted(r.topic for r in again.out) == sorted(r.topic for r in first.out)
    assert [r.value for r in again.out if r.topic == retry_topic] == [
        r.value for r in first.out if r.topic == retry_topic
    ]
    retried = codecs.NOTIFICATION.decode(next(r.value for r in again.out if r.topic == retry_topic))
    assert retried.attempt == 1
    row = await runtime.pool.fetchrow("SELECT status, attempts FROM notifications")
    assert row is not None and (row["status"], row["attempts"]) == (NotificationStatus.THROTTLED, 1)
