"""The reminder rules (unread and payment reminders), walked hour by hour on a fake clock
(no I/O)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from schemas.enums import NotificationKind
from tests.fakes import Clock
from worker.services.reminders import (
    Candidate,
    MessageState,
    ReminderDue,
    SentReminder,
    in_send_window,
    next_reminder,
    plan_round,
)
from worker.settings import ReminderSettings

ROME = ZoneInfo("Europe/Rome")
RULES = ReminderSettings()
READ = NotificationKind.REMINDER_READ
PAYMENT = NotificationKind.REMINDER_PAYMENT
LAST = NotificationKind.REMINDER_PAYMENT_LAST


def rome(day: int, hour: int = 10, minute: int = 0, month: int = 5) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=ROME)


def message(created_at: datetime, **fields: object) -> MessageState:
    base = MessageState(
        id="M1", fiscal_code="RSSMRA80A01H501U", sender_service_id="s", created_at=created_at
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def walk(
    msg: MessageState,
    until: datetime,
    rules: ReminderSettings = RULES,
    read_at: datetime | None = None,
) -> list[tuple[datetime, ReminderDue]]:
    """Run one round per hour from arrival to `until`, feeding each reminder back."""
    clock = Clock(msg.created_at)
    history: list[SentReminder] = []
    sent: list[tuple[datetime, ReminderDue]] = []
    while clock.advance(timedelta(hours=1)) <= until:
        now = clock()
        current = replace(msg, is_read=read_at is not None and now >= read_at)
        due = next_reminder(current, history, now, rules)
        if due is not None:
            history.append(SentReminder(due.kind, now))
            sent.append((now.astimezone(ROME), due))
    return sent


def test_the_send_window_is_08_00_to_20_59_rome_time_across_dst() -> None:
    assert in_send_window(rome(2, 8, 0), RULES)
    assert in_send_window(rome(2, 20, 59), RULES)
    assert not in_send_window(rome(2, 21, 0), RULES)
    assert not in_send_window(rome(2, 7, 59), RULES)
    assert not in_send_window(rome(2, 22, 0), RULES)
    # 06:30 UTC is 08:30 in summer (CEST) and 07:30 in winter (CET)
    utc = ZoneInfo("UTC")
    assert in_send_window(datetime(2024, 7, 1, 6, 30, tzinfo=utc), RULES)
    assert not in_send_window(datetime(2024, 1, 15, 6, 30, tzinfo=utc), RULES)


def test_an_unread_message_gets_three_reminders_three_days_apart() -> None:
    sent = walk(message(rome(1)), rome(20))
    assert [(t, d.kind, d.ordinal) for t, d in sent] == [
        (rome(4), READ, 1),
        (rome(7), READ, 2),
        (rome(10), READ, 3),
    ]


def test_a_message_arriving_at_night_is_reminded_at_8_once_the_period_passed() -> None:
    sent = walk(message(rome(1, 22, 30)), rome(20))
    # rounds run hourly from 22:30 here, so the first one in the window is 08:30
    assert [t for t, _ in sent] == [rome(5, 8, 30), rome(8, 8, 30), rome(11, 8, 30)]


def test_reading_the_message_stops_the_unread_reminders() -> None:
    sent = walk(message(rome(1)), rome(20), read_at=rome(5))
    assert [t for t, _ in sent] == [rome(4)]


def test_a_payment_notice_is_reminded_on_d_minus_10_7_4_and_last_on_d_minus_1() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    sent = walk(msg, rome(31))
    assert [(t, d.kind, d.ordinal) for t, d in sent] == [
        (rome(15, 8), PAYMENT, 1),
        (rome(18, 8), PAYMENT, 2),
        (rome(21, 8), PAYMENT, 3),
        (rome(24, 8), LAST, 4),
    ]


def test_payment_reminders_go_on_whether_the_notice_is_read_or_not() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    assert len(walk(msg, rome(31), read_at=rome(2))) == 4


def test_the_payment_window_bounds_the_first_reminder() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    sent = walk(msg, rome(31), rules=replace(RULES, payment_window_days=5))
    assert [(t.day, d.kind) for t, d in sent] == [(21, PAYMENT), (24, LAST)]


def test_a_notice_arriving_late_gets_only_the_remaining_reminders() -> None:
    msg = message(rome(20, 9), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    sent = walk(msg, rome(31))
    assert [(t, d.kind, d.ordinal) for t, d in sent] == [
        (rome(21, 8), PAYMENT, 1),
        (rome(24, 8), LAST, 2),
    ]


def test_no_payment_reminder_once_paid_or_past_the_due_date_or_at_the_maximum() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    assert next_reminder(replace(msg, paid=True), [], rome(24, 9), RULES) is None
    assert next_reminder(msg, [], rome(25, 13), RULES) is None
    four = [SentReminder(PAYMENT, rome(d, 8)) for d in (12, 15, 18, 21)]
    assert next_reminder(msg, four, rome(24, 9), RULES) is None
    due = next_reminder(msg, four[:3], rome(24, 9), RULES)
    assert due is not None and due.kind == LAST


def test_a_missed_reminder_day_is_caught_up_once() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18, due_date=rome(25, 12))
    history = [SentReminder(PAYMENT, rome(15, 8))]  # the D-7 day (18th) was missed
    late = next_reminder(msg, history, rome(19, 9), RULES)
    assert late is not None and late.ordinal == 2
    history.append(SentReminder(PAYMENT, rome(19, 9)))
    assert next_reminder(msg, history, rome(20, 9), RULES) is None


def test_a_notice_without_due_date_is_reminded_every_period_up_to_the_maximum() -> None:
    msg = message(rome(1), rpt_id="12345678901" + "0" * 18)
    sent = walk(msg, rome(31))
    assert [(t.day, d.kind) for t, d in sent] == [
        (4, PAYMENT),
        (7, PAYMENT),
        (10, PAYMENT),
        (13, PAYMENT),
    ]


def test_the_numbers_are_settings() -> None:
    rules = replace(RULES, unread_period_days=1, unread_max=2)
    assert [t.day for t, _ in walk(message(rome(1)), rome(20), rules=rules)] == [2, 3]


def test_one_reminder_per_rpt_id_per_round_oldest_message_first() -> None:
    rpt = "12345678901" + "0" * 18
    older = message(rome(1), id="A", rpt_id=rpt, due_date=rome(25, 12))
    newer = message(rome(2), id="B", rpt_id=rpt, due_date=rome(25, 12))
    other = message(rome(1), id="C")
    planned = plan_round([Candidate(newer), Candidate(older), Candidate(other)], rome(15, 9), RULES)
    assert [(p.message.id, p.kind) for p in planned] == [("A", PAYMENT)]
    planned = plan_round([Candidate(newer), Candidate(older), Candidate(other)], rome(4, 11), RULES)
    assert [p.message.id for p in planned] == ["C"]


def test_reminder_ids_are_deterministic_and_distinct_per_ordinal() -> None:
    msg = message(rome(1))
    first = ReminderDue(msg, READ, 1)
    assert first.id == ReminderDue(msg, READ, 1).id
    assert first.id != ReminderDue(msg, READ, 2).id
    assert first.id.startswith("M1-push-reminder_read")
