"""The payments role over the real broker and PostgreSQL."""

from __future__ import annotations

from schemas.events import MessagePaid
from schemas.topics import Topic
from tests.integration.helpers import drain, read_topic, status_events
from tests.integration.premium_helpers import (
    RPT_ID,
    insert_message,
    payment_event,
    publish,
)
from worker.bootstrap import Runtime
from worker.roles import payments


async def _drain(runtime: Runtime) -> int:
    return await drain(runtime, payments.build)


async def _paid_events(runtime: Runtime) -> list[MessagePaid]:
    events = await status_events(runtime)
    return [e for e in events if isinstance(e, MessagePaid)]


async def test_a_payment_marks_every_message_with_its_rpt_id_paid(runtime: Runtime) -> None:
    await insert_message(runtime, "M-A", rpt_id=RPT_ID)
    await insert_message(runtime, "M-B", rpt_id=RPT_ID, fiscal_code="VRDGPP80A01H501X")
    await insert_message(runtime, "M-OTHER", rpt_id="12345678901302000000000000999")
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-1"), RPT_ID.encode())

    assert await _drain(runtime) == 1

    rows = await runtime.pool.fetch(
        "SELECT id, paid_at IS NOT NULL AS paid, status_seq, paid_seq FROM messages ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("M-A", True, 2, 2),
        ("M-B", True, 2, 2),
        ("M-OTHER", False, 1, None),
    ]
    events = await _paid_events(runtime)
    assert sorted((e.message_id, e.seq, e.rpt_id) for e in events) == [
        ("M-A", 2, RPT_ID),
        ("M-B", 2, RPT_ID),
    ]
    assert all(
        e.paid_at is not None and e.paid_at.isoformat() == "2024-05-02T09:30:00+00:00"
        for e in events
    )


async def test_a_payment_before_its_message_is_kept_for_it(runtime: Runtime) -> None:
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-early"), RPT_ID.encode())
    await _drain(runtime)

    kept = await runtime.pool.fetchrow(
        "SELECT rpt_id, amount FROM payments WHERE event_id = 'evt-early'"
    )
    assert kept is not None and tuple(kept) == (RPT_ID, "12.50")
    assert await _paid_events(runtime) == []


async def test_a_duplicate_event_changes_nothing_and_re_emits_the_same_event(
    runtime: Runtime,
) -> None:
    await insert_message(runtime, "M-A", rpt_id=RPT_ID)
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-1"), RPT_ID.encode())
    await _drain(runtime)
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-1"), RPT_ID.encode())
    await _drain(runtime)

    assert await runtime.pool.fetchval("SELECT count(*) FROM payments") == 1
    row = await runtime.pool.fetchrow("SELECT status_seq, paid_seq FROM messages WHERE id = 'M-A'")
    assert row is not None and tuple(row) == (2, 2)
    events = await _paid_events(runtime)
    assert len(events) == 2 and events[0] == events[1]


async def test_malformed_events_go_to_the_dlq_with_their_reason(runtime: Runtime) -> None:
    await insert_message(runtime, "M-A", rpt_id=RPT_ID)
    await publish(runtime, Topic.PAYMENTS, b"{not json", b"bad-1")
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-2", notice="12"), b"bad-2")
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-3"), RPT_ID.encode())

    assert await _drain(runtime) == 3

    dead = await read_topic(runtime, Topic.PAYMENTS.dlq())
    by_key = {r.key: r for r in dead}
    assert set(by_key) == {b"bad-1", b"bad-2"}
    assert by_key[b"bad-1"].header("postino-error-code") == b"not_json"
    assert by_key[b"bad-2"].header("postino-error-code") == b"invalid_payment"
    assert b"noticeNumber" in (by_key[b"bad-2"].header("postino-error-detail") or b"")
    original = runtime.settings.kafka.topics.name(Topic.PAYMENTS).encode()
    assert by_key[b"bad-2"].header("postino-original-topic") == original
    assert by_key[b"bad-2"].value == payment_event("evt-2", notice="12")
    paid = await runtime.pool.fetchval("SELECT paid_at IS NOT NULL FROM messages WHERE id = 'M-A'")
    assert paid is True


async def test_a_message_that_missed_its_kept_payment_is_paid_by_the_sweeper(
    runtime: Runtime,
) -> None:
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-early"), RPT_ID.encode())
    await _drain(runtime)
    # The message lands without being paid on arrival (the two crossed in flight).
    await insert_message(runtime, "M-LATE", rpt_id=RPT_ID)

    assert await payments.sweep_once(runtime) == 1
    assert await payments.sweep_once(runtime) == 0

    row = await runtime.pool.fetchrow("SELECT paid_at, paid_seq FROM messages WHERE id = 'M-LATE'")
    assert row is not None and row["paid_seq"] == 2
    assert row["paid_at"].isoformat() == "2024-05-02T09:30:00+00:00"
    assert [(e.message_id, e.seq) for e in await _paid_events(runtime)] == [("M-LATE", 2)]
