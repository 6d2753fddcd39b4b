"""callbacks over the real broker and PostgreSQL, with local HTTP receivers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_service
from tests.integration.notify_helpers import Receiver, running, serving, with_settings
from worker.bootstrap import Runtime, webhook_sender
from worker.core.records import OutRecord
from worker.roles.callbacks import CallbacksRole

SECRET = "s3cret-for-tests"


async def _service_with_hook(runtime: Runtime, url: str) -> str:
    service_id, _ = await create_service(runtime, callback_url=url, callback_secret=SECRET)
    return service_id


async def _publish_status(runtime: Runtime, service_id: str, message_id: str) -> bytes:
    event = MessageStatusChanged(
        message_id=message_id,
        sender_service_id=service_id,
        seq=2,
        at=datetime.now(UTC),
        status=MessageStatus.PROCESSED,
    )
    value = codecs.STATUS.encode(event)
    topic = runtime.settings.kafka.topics.name(Topic.STATUS)
    await runtime.publisher.publish(OutRecord(topic, value, message_id.encode()))
    return value


def _fast(runtime: Runtime, **changes: object) -> Runtime:
    options: dict[str, object] = {"retry_delays": (0.2, 0.3), "timeout_seconds": 0.5, **changes}
    return with_settings(runtime, "callbacks", **options)


def _verify(headers: dict[str, str], body: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in headers["Postino-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(parts["v1"], expected.hexdigest())


@contextlib.asynccontextmanager
async def _role(rt: Runtime) -> AsyncIterator[CallbacksRole]:
    async with webhook_sender(rt.settings.callbacks) as sender:
        role = CallbacksRole(rt, sender)
        try:
            yield role
        finally:
            await role.stop()


async def test_a_status_event_is_posted_signed_to_the_sender(runtime: Runtime) -> None:
    async with serving(Receiver()) as hook:
        service_id = await _service_with_hook(runtime, hook.url)
        value = await _publish_status(runtime, service_id, "01J0000000000000000000000B")
        async with _role(_fast(runtime)) as role, running(*role.runners):
            await eventually(lambda: asyncio.sleep(0, hook.calls), lambda c: len(c) == 1)
    headers, body = hook.calls[0]
    assert body == value
    assert _verify(headers, body)
    assert codecs.STATUS.decode(body).message_id == "01J0000000000000000000000B"
    assert await runtime.pool.fetchval("SELECT outcome FROM callback_deliveries") == "delivered"


async def test_a_failing_receiver_is_retried_and_a_refusing_one_is_not(runtime: Runtime) -> None:
    async with (
        serving(Receiver(failures=3)) as flaky,
        serving(Receiver(failures=10_000, fail_status=404)) as refusing,
    ):
        flaky_id = await _service_with_hook(runtime, flaky.url)
        refusing_id = await _service_with_hook(runtime, refusing.url)
        await _publish_status(runtime, flaky_id, "01J0000000000000000000000C")
        await _publish_status(runtime, refusing_id, "01J0000000000000000000000D")
        async with _role(_fast(runtime)) as role, running(*role.runners):
            await eventually(lambda: asyncio.sleep(0, flaky.calls), lambda c: len(c) == 4)
            outcomes = await eventually(
                lambda: runtime.pool.fetch("SELECT outcome FROM callback_deliveries"),
                lambda rows: len(rows) == 2,
            )
    assert sorted(r["outcome"] for r in outcomes) == ["delivered", "refused"]
    assert len(refusing.calls) == 1
    assert all(_verify(h, b) for h, b in flaky.calls)


async def test_a_hanging_receiver_delays_no_other_services_callbacks(runtime: Runtime) -> None:
    async with serving(Receiver(hang=asyncio.Event())) as slow, serving(Receiver()) as quick:
        slow_id = await _service_with_hook(runtime, slow.url)
        quick_id = await _service_with_hook(runtime, quick.url)
        # The slow receiver would hold a callback for 30 s; the quick one must not wait.
        async with (
            _role(_fast(runtime, timeout_seconds=30.0)) as role,
            running(*role.runners),
        ):
            for n in range(3):
                await _publish_status(runtime, slow_id, f"01J000000000000000000000S{n}")
            await eventually(lambda: asyncio.sleep(0, slow.calls), lambda c: len(c) == 3)
            for n in range(3):
                await _publish_status(runtime, quick_id, f"01J000000000000000000000Q{n}")
            started = asyncio.get_running_loop().time()
            await eventually(
                lambda: asyncio.sleep(0, quick.calls), lambda c: len(c) == 3, timeout=5.0
            )
            waited = asyncio.get_running_loop().time() - started
    print(f"quick receiver got 3 callbacks {waited:.3f}s after publishing, slow one hanging")
    assert len(slow.calls) == 3  # still in flight: never answered
