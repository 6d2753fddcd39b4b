"""Reminders rounds over the real broker and PostgreSQL, driven by a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from schemas import codecs
from schemas.enums import Channel, NotificationKind
from schemas.events import NotificationRequest
from schemas.topics import Topic
from tests.factories import create_profile
from tests.fakes import Clock
from tests.integration.helpers import drain, read_topic
from tests.integration.premium_helpers import (
    CITIZEN,
    RPT_ID,
    insert_message,
    payment_event,
    publish,
)
from worker.bootstrap import Runtime
from worker.roles import payments
from worker.roles.reminders import run_round

ROME = ZoneInfo("Europe/Rome")
START = datetime(2024, 5, 1, 10, 0, tzinfo=ROME)
READ = NotificationKind.REMINDER_READ
PAYMENT = NotificationKind.REMINDER_PAYMENT
LAST = NotificationKind.REMINDER_PAYMENT_LAST


async def _requests(runtime: Runtime) -> list[NotificationRequest]:
    records = await read_topic(runtime, Topic.NOTIFICATIONS)
    return [codecs.NOTIFICATION.decode(r.value or b"") for r in records]


async def _sent(runtime: Runtime) -> list[tuple[str, datetime, str, int]]:
    rows = await runtime.pool.fetch(
        "SELECT message_id, sent_at, kind, ordinal FROM reminders"
        " WHERE published_at IS NOT NULL ORDER BY sent_at"
    )
    return [(r[0], r[1].astimezone(ROME), r[2], r[3]) for r in rows]


async def _walk(runtime: Runtime, clock: Clock, days: int, step_hours: int = 1) -> int:
    """One round per step for `days` days: weeks of schedule in well under a second."""
    rounds = 0
    end = clock() + timedelta(days=days)
    while clock.advance(timedelta(hours=step_hours)) <= end:
        await run_round(runtime, clock())
        rounds += 1
    return rounds


async def test_an_unread_message_gets_three_reminders_three_days_apart(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    await insert_message(runtime, "M-UNREAD", created_at=START)
    clock = Clock(START)

    assert await _walk(runtime, clock, days=14) == 14 * 24

    sent = await _sent(runtime)
    assert [(t, kind, n) for _, t, kind, n in sent] == [
        (START + timedelta(days=3), READ, 1),
        (START + timedelta(days=6), READ, 2),
        (START + timedelta(days=9), READ, 3),
    ]
    requests = await _requests(runtime)
    assert [r.kind for r in requests] == [READ, READ, READ]
    assert len({r.notification_id for r in requests}) == 3
    first = requests[0]
    assert (first.message_id, first.fiscal_code, first.channel) == (
        "M-UNREAD",
        CITIZEN,
        Channel.PUSH,
    )
    assert first.deadline == START + timedelta(days=4)


async def test_reading_the_message_stops_the_unread_reminders(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    await insert_message(runtime, "M-UNREAD", created_at=START)
    clock = Clock(START)
    await _walk(runtime, clock, days=4)
    await runtime.pool.execute("UPDATE messages SET is_read = true, read_at = $1", clock())
    await _walk(runtime, clock, days=10)

    assert [n for *_, n in await _sent(runtime)] == [1]


async def test_an_unpaid_notice_is_reminded_four_times_the_last_the_day_before_due(
    runtime: Runtime,
) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    due = datetime(2024, 5, 20, 12, 0, tzinfo=ROME)
    await insert_message(runtime, "M-PAY", created_at=START, rpt_id=RPT_ID, due_date=due)
    clock = Clock(START)

    await _walk(runtime, clock, days=25)

    sent = await _sent(runtime)
    assert [(t.date().day, t.hour, kind) for _, t, kind, _ in sent] == [
        (10, 8, PAYMENT),
        (13, 8, PAYMENT),
        (16, 8, PAYMENT),
        (19, 8, LAST),
    ]
    assert [r.kind for r in await _requests(runtime)] == [PAYMENT, PAYMENT, PAYMENT, LAST]


async def test_the_payment_window_is_a_setting(runtime: Runtime) -> None:
    rules = replace(runtime.settings.reminders, payment_window_days=5)
    narrow = replace(runtime, settings=replace(runtime.settings, reminders=rules))
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    due = datetime(2024, 5, 20, 12, 0, tzinfo=ROME)
    await insert_message(runtime, "M-PAY", created_at=START, rpt_id=RPT_ID, due_date=due)

    await _walk(narrow, Clock(START), days=25)

    assert [(t.date().day, kind) for _, t, kind, _ in await _sent(runtime)] == [
        (16, PAYMENT),
        (19, LAST),
    ]


async def test_a_payment_stops_the_payment_reminders(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    due = datetime(2024, 5, 20, 12, 0, tzinfo=ROME)
    await insert_message(runtime, "M-PAY", created_at=START, rpt_id=RPT_ID, due_date=due)
    clock = Clock(START)
    await _walk(runtime, clock, days=13)  # D-10 and D-7 sent
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-1"), RPT_ID.encode())
    await drain(runtime, payments.build)
    await _walk(runtime, clock, days=12)

    assert [t.date().day for _, t, _, _ in await _sent(runtime)] == [10, 13]


async def test_no_reminder_past_the_due_date(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    due = datetime(2024, 5, 20, 9, 0, tzinfo=ROME)
    await insert_message(runtime, "M-PAY", created_at=START, rpt_id=RPT_ID, due_date=due)
    # The process was down until after the due date: nothing is caught up then.
    assert (await run_round(runtime, datetime(2024, 5, 20, 10, 0, tzinfo=ROME))).planned == 0
    assert (await run_round(runtime, datetime(2024, 5, 21, 10, 0, tzinfo=ROME))).planned == 0
    assert await _sent(runtime) == []


async def test_no_reminder_at_night_rome_time_summer_or_winter(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    await insert_message(runtime, "M-SUMMER", created_at=datetime(2024, 7, 1, 10, tzinfo=ROME))
    await insert_message(runtime, "M-WINTER", created_at=datetime(2024, 1, 1, 10, tzinfo=ROME))
    utc = ZoneInfo("UTC")
    # 22:00 and 07:00 in Rome: 20:00/05:00 UTC in summer, 21:00/06:00 UTC in winter
    for night in (
        datetime(2024, 7, 5, 20, 0, tzinfo=utc),
        datetime(2024, 7, 6, 5, 0, tzinfo=utc),
        datetime(2024, 1, 5, 21, 0, tzinfo=utc),
        datetime(2024, 1, 6, 6, 0, tzinfo=utc),
    ):
        assert (await run_round(runtime, night)).in_window is False
    assert await _sent(runtime) == []
    assert (await run_round(runtime, datetime(2024, 1, 6, 7, 0, tzinfo=utc))).planned == 1
    assert (await run_round(runtime, datetime(2024, 7, 6, 6, 0, tzinfo=utc))).planned == 1
    assert [t.hour for _, t, _, _ in await _sent(runtime)] == [8, 8]


async def test_without_reminder_consent_no_reminder(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="DISABLED")
    await create_profile(runtime, "VRDGPP80A01H501X")  # UNSET, the default
    await insert_message(runtime, "M-1", created_at=START)
    await insert_message(runtime, "M-2", created_at=START, fiscal_code="VRDGPP80A01H501X")
    await insert_message(runtime, "M-3", created_at=START, fiscal_code="BNCLCU80A01H501Y")
    await _walk(runtime, Clock(START), days=10, step_hours=6)
    assert await _sent(runtime) == []


async def test_only_processed_advanced_messages_are_reminded(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    await insert_message(runtime, "M-STD", created_at=START, feature_level_type="STANDARD")
    await insert_message(
        runtime,
        "M-REJ",
        created_at=START,
        status="REJECTED",
        rejection_reason="SERVICE_NOT_ALLOWED",
    )
    await insert_message(runtime, "M-ADV", created_at=START)
    await _walk(runtime, Clock(START), days=4)
    assert [m for m, *_ in await _sent(runtime)] == ["M-ADV"]


async def test_one_reminder_per_rpt_id_per_round(runtime: Runtime) -> None:
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED")
    due = datetime(2024, 5, 20, 12, 0, tzinfo=ROME)
    await insert_message(runtime, "M-OLD", created_at=START, rpt_id=RPT_ID, due_date=due)
    later = START + timedelta(hours=1)
    await insert_message(runtime, "M-NEW", created_at=later, rpt_id=RPT_ID, due_date=due)
    clock = Clock(datetime(2024, 5, 10, 8, 0, tzinfo=ROME))

    assert (await run_round(runtime, clock())).planned == 1
    assert (await run_round(runtime, clock.advance(timedelta(minutes=5)))).planned == 0
    assert [m for m, *_ in await _sent(runtime)] == ["M-OLD"]
    assert len(await _requests(runtime)) == 1


async def test_a_reminder_recorded_but_not_published_goes_out_next_round(runtime: Runtime) -> None:
    await runtime.pool.execute(
        "INSERT INTO reminders (id, message_id, kind, ordinal, sent_at, fiscal_code,"
        " sender_service_id, deadline) VALUES ('M-X-push-reminder_read_1', 'M-X',"
        " 'REMINDER_READ', 1, $1, $2, 'svc', $3)",
        START,
        CITIZEN,
        START + timedelta(days=1),
    )
    report = await run_round(runtime, START + timedelta(minutes=5))
    assert (report.planned, report.published) == (0, 1)
    [request] = await _requests(runtime)
    assert request.notification_id == "M-X-push-reminder_read_1"
    assert (await run_round(runtime, START + timedelta(minutes=10))).published == 0
