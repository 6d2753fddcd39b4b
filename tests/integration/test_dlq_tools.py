"""DLQ tools over the real broker and PostgreSQL: a poison record goes to the DLQ via
deliver, `dlq list` shows it without personal data, the operator fixes the cause,
`dlq replay` re-publishes it, deliver drains it, and a second replay does nothing."""

from __future__ import annotations

import msgspec

from schemas import codecs
from schemas.messages import MessageContent, SubmittedMessage
from schemas.topics import Topic
from tests.factories import MARKDOWN, create_profile, create_service
from tests.integration.helpers import drain
from worker.bootstrap import Runtime
from worker.cli import dlq
from worker.core.records import OutRecord
from worker.ids import upstream_id

CITIZEN = "RSSMRA80A01H501U"
POISON_ID = "01JPOISON00000000000000000"
SUBJECT = "Avviso di scadenza della carta d'identita"


async def _submit(runtime: Runtime, service_id: str, message_id: str) -> None:
    message = SubmittedMessage(
        id=message_id,
        sender_service_id=service_id,
        fiscal_code=CITIZEN,
        content=MessageContent(subject=SUBJECT, markdown=MARKDOWN),
    )
    topic = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    await runtime.publisher.publish(
        OutRecord(topic, codecs.SUBMITTED.encode(message), CITIZEN.encode())
    )


async def _statuses(runtime: Runtime) -> dict[str, str]:
    rows = await runtime.pool.fetch("SELECT id, status FROM messages")
    return {r["id"]: r["status"] for r in rows}


async def test_a_poison_record_is_listed_then_replayed_after_the_fix(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    await create_profile(runtime, CITIZEN)
    # The cause, for this test: the database refuses the poison row until an operator
    # fixes it (any non-transient failure of the handler ends the same way).
    await runtime.pool.execute(
        "ALTER TABLE messages ADD CONSTRAINT dlq_test_refuses"
        f" CHECK (id <> '{upstream_id(service_id, POISON_ID)}') NOT VALID"
    )
    try:
        for message_id in ("01JGOOD0000000000000000001", POISON_ID, "01JGOOD0000000000000000002"):
            await _submit(runtime, service_id, message_id)
        await drain(runtime)
        assert await _statuses(runtime) == {
            upstream_id(service_id, "01JGOOD0000000000000000001"): "PROCESSED",
            upstream_id(service_id, "01JGOOD0000000000000000002"): "PROCESSED",
        }

        listing = await dlq.list_dlq(runtime.settings, "messages.submitted")
        assert (listing.total, listing.pending, len(listing.records)) == (1, 1, 1)
        assert listing.records[0].header("postino-error-code") == b"processing_error"
        shown = dlq.format_listing(listing)
        assert "processing_error" in shown
        assert CITIZEN not in shown
        assert SUBJECT not in shown
    finally:
        await runtime.pool.execute("ALTER TABLE messages DROP CONSTRAINT dlq_test_refuses")

    replay = await dlq.replay_dlq(runtime.settings, "messages.submitted.dlq")
    submitted = runtime.settings.kafka.topics.name(Topic.SUBMITTED)
    assert (replay.replayed, replay.to_topics, replay.refused) == (1, {submitted: 1}, [])
    assert await drain(runtime) == 1
    assert (await _statuses(runtime))[upstream_id(service_id, POISON_ID)] == "PROCESSED"

    after = await dlq.list_dlq(runtime.settings, "messages.submitted")
    assert (after.total, after.pending, after.records) == (1, 0, [])
    again = await dlq.replay_dlq(runtime.settings, "messages.submitted")
    assert again.replayed == 0


async def test_a_dlq_record_without_a_known_origin_is_left_in_place(runtime: Runtime) -> None:
    ks = runtime.settings.kafka
    dlq_name = ks.topics.dlq(Topic.SUBMITTED)
    body = msgspec.json.encode({"not": "a message"})
    stray = OutRecord(dlq_name, body, CITIZEN.encode(), (("postino-error-code", b"x"),))
    foreign = OutRecord(
        dlq_name, body, CITIZEN.encode(), (("postino-original-topic", b"someone.elses"),)
    )
    await runtime.publisher.publish_many([stray, foreign])

    result = await dlq.replay_dlq(runtime.settings, "messages.submitted")
    assert result.replayed == 0
    assert [why for _, _, why in result.refused] == ["no original topic"]
    assert "left p" in dlq.format_replay(result)
    listing = await dlq.list_dlq(runtime.settings, "messages.submitted")
    assert (listing.total, listing.pending) == (2, 2)
