"""Fuzzing the callbacks role: `RECORDS` hypothesis-generated records on
`messages.status` (events of every kind for a service with a receiver, one without,
one that does not exist; wrong shapes; bytes that are not JSON; poisoned ids and
`traceparent` headers), produced in bulk and drained by the real role, tracing on.

Oracle: the loop drains every record and is alive afterwards (a canary event produced
after the fuzz is posted to the receiver); every record is accounted for: in the DLQ
with a code, or decoded and then settled (delivered or refused), left to its retry
copy, or not for a receiver; the first attempts all end.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import msgspec
import pytest

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_service
from tests.fuzz.generate import RECORDS, TIMEOUT, Tally, examples
from tests.fuzz.loops import Traced, consume_then_canary, dead_offsets
from tests.fuzz.records import deepest, headers_of, status_records
from tests.integration.helpers import read_topic
from tests.integration.notify_helpers import Receiver, serving
from worker.bootstrap import Runtime, webhook_sender
from worker.core.records import OutRecord
from worker.roles.callbacks import CallbacksRole
from worker.services.callback_send import event_key

pytestmark = pytest.mark.timeout(TIMEOUT)

SECRET = "s3cret-for-the-fuzz"


async def test_fuzzed_status_events_are_posted_or_dead_lettered_with_a_code(
    runtime: Runtime, traced: Traced
) -> None:
    async with serving(Receiver()) as hook, webhook_sender(runtime.settings.callbacks) as sender:
        service_id, _ = await create_service(runtime, callback_url=hook.url, callback_secret=SECRET)
        await create_service(runtime, id="svc-quiet")
        topic = runtime.settings.kafka.topics.name(Topic.STATUS)
        started = time.perf_counter()
        out = [
            OutRecord(topic, v, b"m", headers_of(tp))
            for v, tp in examples(status_records(service_id), RECORDS)
        ]
        out.append(deepest(topic))
        canary = codecs.STATUS.encode(
            MessageStatusChanged(
                message_id="01J0000000000000000000CANA",
                sender_service_id=service_id,
                seq=1,
                at=datetime.now(UTC),
                status=MessageStatus.PROCESSED,
            )
        )
        drawn = time.perf_counter()
        role = CallbacksRole(runtime, sender)
        try:
            await role.retry.start()  # not run here: its copies are counted, not retried
            loop = await consume_then_canary(
                runtime, lambda _: role.main, out, [OutRecord(topic, canary, b"m")]
            )
            await eventually(
                lambda: asyncio.sleep(0, role.first_attempts.in_flight), lambda n: n == 0, 120
            )
        finally:
            await role.stop()

    assert loop.handled == len(out) and loop.after == 1, "the callbacks loop stalled or died"
    assert canary in [body for _, body in hook.calls], "the canary after the fuzz was not posted"
    produced = [r for r in await read_topic(runtime, Topic.STATUS) if r.value != canary]
    dead = dead_offsets(await read_topic(runtime, f"{Topic.STATUS}.dlq"))
    settled = {
        r["event_key"]: r["outcome"]
        for r in await runtime.pool.fetch("SELECT event_key, outcome FROM callback_deliveries")
    }
    tally, lost = Tally("messages.status records (service, outcome)"), []
    for record in produced:
        if record.offset in dead.get(record.partition, {}):
            tally.add("-", f"dlq {dead[record.partition][record.offset].decode()}")
            continue
        try:
            event = codecs.STATUS.decode(record.value or b"")
        except (msgspec.DecodeError, RecursionError):
            lost.append((record.partition, record.offset))
            continue
        who = "with receiver" if event.sender_service_id == service_id else "other"
        key = event_key(event.sender_service_id, record.value or b"")
        tally.add(who, settled.get(key, "retry copy" if who == "with receiver" else "no receiver"))
    print("\n" + tally.table())
    print(
        f"messages.status: {len(out)} records, {len(hook.calls)} callbacks posted,"
        f" {traced.spans} spans; drawn in {drawn - started:.1f} s,"
        f" consumed in {loop.seconds:.1f} s"
    )
    assert lost == [], "records neither decoded nor dead-lettered"
