"""A record nested 1,000 deep (4 KB), carrying a `traceparent`, with tracing on, through
each consumer the fuzz covers: it goes to the topic's DLQ with an error code, and the
same loop then handles a valid record."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from schemas.topics import Topic
from tests.factories import create_profile, create_service
from tests.fuzz.generate import TIMEOUT
from tests.fuzz.loops import Traced, consume_then_canary, dead_offsets
from tests.fuzz.records import CITIZEN, deepest, encode
from tests.integration.helpers import read_topic
from tests.integration.notify_helpers import Receiver, serving
from worker.bootstrap import Runtime, webhook_sender
from worker.consumers.runner import ConsumerRunner
from worker.core.records import OutRecord
from worker.roles import deliver, payments
from worker.roles.callbacks import CallbacksRole

pytestmark = pytest.mark.timeout(TIMEOUT)

Build = Callable[[Runtime], ConsumerRunner]


@contextlib.asynccontextmanager
async def _role(runtime: Runtime, topic: str) -> AsyncIterator[tuple[Build, bytes]]:
    """The role that consumes `topic`, and a valid record for it."""
    service_id, _ = await create_service(runtime, payments=True)
    if topic == Topic.SUBMITTED:
        await create_profile(runtime, CITIZEN)
        value = {"sender_service_id": service_id, "fiscal_code": CITIZEN}
        value |= {"content": {"subject": "Avviso di pagamento TARI", "markdown": "x" * 90}}
        yield deliver.build, encode(value)
    elif topic == Topic.PAYMENTS:
        payment = {"id": "ok", "debtorPosition": {"noticeNumber": "302000000000000042"}}
        yield payments.build, encode(payment | {"creditor": {"idPA": "12345678901"}})
    else:
        async with (
            serving(Receiver()) as hook,
            webhook_sender(runtime.settings.callbacks) as sender,
        ):
            await runtime.pool.execute(
                "UPDATE services SET callback_url = $1, callback_secret = 's' WHERE id = $2",
                hook.url,
                service_id,
            )
            role = CallbacksRole(runtime, sender)
            await role.retry.start()
            event = {"kind": "message", "message_id": "01J0000000000000000000DEEP"}
            event |= {"sender_service_id": service_id, "seq": 1, "status": "PROCESSED"}
            try:
                yield (lambda _: role.main), encode(event | {"at": "2026-12-06T12:00:00Z"})
            finally:
                await role.stop()


@pytest.mark.parametrize("base", [Topic.SUBMITTED, Topic.PAYMENTS, Topic.STATUS])
async def test_a_record_nested_1000_deep_goes_to_the_dlq_and_the_loop_goes_on(
    runtime: Runtime, traced: Traced, base: str
) -> None:
    topic = runtime.settings.kafka.topics.name(base)
    deep = deepest(topic)
    async with _role(runtime, base) as (build, valid):
        loop = await consume_then_canary(runtime, build, [deep], [OutRecord(topic, valid)])
    dead = dead_offsets(await read_topic(runtime, f"{base}.dlq"))
    codes = [code for offsets in dead.values() for code in offsets.values()]
    assert len(codes) == 1, codes
    assert (loop.handled, loop.after) == (1, 1), "the loop stalled or died"
