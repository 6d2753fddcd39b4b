"""Callback retry tiers never wait on one service's slow receivers
(docs/integrators/callbacks.md): a retry-tier batch starts its attempts in the background,
bounded per service, so a
hanging receiver delays no other service's retries."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_service
from tests.integration.notify_helpers import Receiver, running, serving, with_settings
from worker.bootstrap import Runtime, webhook_sender
from worker.core.batch import due_header
from worker.core.records import OutRecord
from worker.roles.callbacks import CallbacksRole
from worker.services.callback_send import ATTEMPT_HEADER


def _retry_copy(runtime: Runtime, service_id: str, message_id: str) -> OutRecord:
    """An event's copy in the first retry tier, due now (its first attempt failed)."""
    event = MessageStatusChanged(
        message_id=message_id,
        sender_service_id=service_id,
        seq=1,
        at=datetime.now(UTC),
        status=MessageStatus.PROCESSED,
    )
    headers = ((ATTEMPT_HEADER, b"1"), due_header(time.time()))
    topic = runtime.settings.kafka.topics.name(Topic.CALLBACKS_RETRY_1)
    return OutRecord(topic, codecs.STATUS.encode(event), message_id.encode(), headers)


async def test_a_hanging_receiver_delays_no_other_services_retries(runtime: Runtime) -> None:
    async with serving(Receiver(hang=asyncio.Event())) as slow, serving(Receiver()) as quick:
        slow_id, _ = await create_service(runtime, callback_url=slow.url, callback_secret="s")
        quick_id, _ = await create_service(runtime, callback_url=quick.url, callback_secret="q")
        # Slow ones first, same partition: a batch that waited for them would hold the
        # quick ones for the whole 30 s timeout.
        copies = [_retry_copy(runtime, slow_id, f"01J000000000000000000000S{n}") for n in range(3)]
        copies += [
            _retry_copy(runtime, quick_id, f"01J000000000000000000000Q{n}") for n in range(3)
        ]
        await runtime.publisher.publish_many(
            [OutRecord(c.topic, c.value, b"same-key", c.headers) for c in copies]
        )
        slow_runtime = with_settings(runtime, "callbacks", timeout_seconds=30.0)
        async with webhook_sender(slow_runtime.settings.callbacks) as sender:
            role = CallbacksRole(slow_runtime, sender)
            try:
                async with running(*role.runners):
                    await eventually(
                        lambda: asyncio.sleep(0, quick.calls), lambda c: len(c) == 3, timeout=8.0
                    )
            finally:
                await role.stop()
    assert len(slow.calls) == 3  # in flight, never answered
