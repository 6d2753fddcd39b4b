"""callbacks refuses, record by record, status events whose text no store can hold."""

from __future__ import annotations

import json

from schemas.topics import Topic
from tests.fakes import FakeWebhookSender
from tests.unit.test_callbacks_state_machine import Callbacks
from worker.core.records import OutRecord


async def test_an_event_with_a_nul_in_an_id_is_dead_lettered_and_the_rest_posted() -> None:
    cb = Callbacks(FakeWebhookSender())
    good = cb.event(1)
    poisoned = json.loads(cb.event(2).value)
    poisoned["sender_service_id"] = "svc-1\x00"
    bad = OutRecord(Topic.STATUS, json.dumps(poisoned).encode())

    result = await cb.run(True, bad, good)
    await cb.settle_first_attempts()

    assert [(d.record.value, d.code) for d in result.dead] == [(bad.value, "control_character")]
    assert len(cb.sender.posts) == 1
