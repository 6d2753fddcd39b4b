"""callbacks on the real broker and PostgreSQL: a status event is copied to the retry
tier only when its first attempt is still unsettled after the watchdog's bound
(`POSTINO_CALLBACK_COPY_AFTER_SECONDS`); the offset commit of `messages.status` waits
for the others instead, and passes every event once it is settled or copied. After a
crash, what was neither is read again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import ConsumerGroup, Topic
from tests.conftest import eventually
from tests.factories import create_service
from tests.integration.helpers import read_topic
from tests.integration.notify_helpers import Receiver, running, serving, with_settings
from worker.adapters import kafka, kafka_offsets
from worker.bootstrap import Runtime, webhook_sender
from worker.core.records import OutRecord
from worker.roles.callbacks import CallbacksRole

#: Every event on one key, so on one partition of `messages.status`.
KEY = b"one-partition"


async def _publish(runtime: Runtime, service_id: str, count: int) -> list[bytes]:
    topic = runtime.settings.kafka.topics.name(Topic.STATUS)
    values = [
        codecs.STATUS.encode(
            MessageStatusChanged(
                message_id=f"01J00000000000000000000{n:03d}",
                sender_service_id=service_id,
                seq=1,
                at=datetime.now(UTC),
                status=MessageStatus.PROCESSED,
            )
        )
        for n in range(count)
    ]
    await runtime.publisher.publish_many([OutRecord(topic, v, KEY) for v in values])
    return values


async def _committed(runtime: Runtime) -> dict[int, int]:
    """The callbacks group's committed offsets on `messages.status`, by partition."""
    ks = runtime.settings.kafka
    topic = ks.topics.name(Topic.STATUS)
    consumer = kafka_offsets.inspector(ks, runtime.bootstrap, ks.group(ConsumerGroup.CALLBACKS))
    await consumer.start()
    try:
        partitions = await kafka.all_partitions(consumer, [topic])
        found = await kafka_offsets.committed(consumer, partitions)
        return {tp.partition: offset for tp, offset in found.items()}
    finally:
        await consumer.stop()


async def _end(runtime: Runtime) -> dict[int, int]:
    """Per partition of `messages.status` holding records: the offset after the last."""
    ends: dict[int, int] = {}
    for record in await read_topic(runtime, Topic.STATUS):
        ends[record.partition] = record.offset + 1
    return ends


@contextlib.asynccontextmanager
async def _role(rt: Runtime) -> AsyncIterator[CallbacksRole]:
    async with webhook_sender(rt.settings.callbacks) as sender:
        role = CallbacksRole(rt, sender)
        try:
            async with running(*role.runners):
                yield role
        finally:
            await role.stop()


async def test_a_healthy_receiver_gets_every_event_with_no_copy_published(
    runtime: Runtime,
) -> None:
    fast = with_settings(runtime, "callbacks", copy_after_seconds=0.5, retry_delays=(0.2, 0.3))
    async with serving(Receiver()) as hook:
        service_id, _ = await create_service(runtime, callback_url=hook.url, callback_secret="s")
        values = await _publish(runtime, service_id, 20)
        async with _role(fast):
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) == 20)
            end = await _end(runtime)
            # the commit passes every event once it is settled (no copy needed)
            await eventually(lambda: _committed(runtime), lambda c: c == end)
    assert sorted(body for _, body in hook.calls) == sorted(values)
    assert await read_topic(runtime, Topic.CALLBACKS_RETRY_1) == []


async def test_a_receiver_hanging_past_the_bound_gets_its_event_copied_and_delivered_once(
    runtime: Runtime,
) -> None:
    # The copy comes due after the attempt has surely ended: 5 s of waiting for a
    # slot, one call of at most 10 s, one second more.
    slow = with_settings(
        runtime, "callbacks", copy_after_seconds=0.5, timeout_seconds=10.0, call_attempts=1
    )
    hang = asyncio.Event()
    async with serving(Receiver(hang=hang)) as hook:
        service_id, _ = await create_service(runtime, callback_url=hook.url, callback_secret="s")
        (value,) = await _publish(runtime, service_id, 1)
        async with _role(slow) as role:
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) == 1)
            # the attempt hangs: the watchdog copies the event, then the commit passes it
            (copy,) = await eventually(
                lambda: read_topic(runtime, Topic.CALLBACKS_RETRY_1), lambda r: len(r) == 1
            )
            end = await _end(runtime)
            await eventually(lambda: _committed(runtime), lambda c: c == end)
            hang.set()  # the receiver answers the first attempt, within its timeout
            await eventually(
                lambda: runtime.pool.fetchval("SELECT outcome FROM callback_deliveries"),
                lambda outcome: outcome == "delivered",
            )
            # the copy comes due, finds the event settled and posts nothing
            await eventually(
                lambda: asyncio.sleep(0, role.retry.processed), lambda n: n == 1, timeout=30
            )
    assert copy.value == value
    assert [body for _, body in hook.calls] == [value]
    assert len(await read_topic(runtime, Topic.CALLBACKS_RETRY_1)) == 1  # no copy after it


async def test_an_event_neither_settled_nor_copied_is_read_again_after_a_crash(
    runtime: Runtime,
) -> None:
    # The watchdog would copy it only after a minute: the crash comes first.
    held = with_settings(runtime, "callbacks", copy_after_seconds=60.0, timeout_seconds=30.0)
    hang = asyncio.Event()
    async with serving(Receiver(hang=hang)) as hook:
        service_id, _ = await create_service(runtime, callback_url=hook.url, callback_secret="s")
        (value,) = await _publish(runtime, service_id, 1)
        ((partition, offset),) = [
            (r.partition, r.offset) for r in await read_topic(runtime, Topic.STATUS)
        ]
        async with _role(held):
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) == 1)
        # Stopped with its POST in flight (as a kill would leave it): never committed past.
        assert (await _committed(runtime)).get(partition, 0) <= offset
        hang.set()
        async with _role(held):
            await eventually(
                lambda: runtime.pool.fetchval("SELECT outcome FROM callback_deliveries"),
                lambda outcome: outcome == "delivered",
            )
            await eventually(lambda: _committed(runtime), lambda c: c == {partition: offset + 1})
    # the POST in flight at the crash is the one repeat (same Idempotency-Key)
    assert [body for _, body in hook.calls] == [value, value]
    assert hook.calls[0][0]["Idempotency-Key"] == hook.calls[1][0]["Idempotency-Key"]
    assert await read_topic(runtime, Topic.CALLBACKS_RETRY_1) == []
