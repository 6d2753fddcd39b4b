"""Retry tiers, texts, and the runner's not-yet-due scheduling, over fakes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from schemas.enums import NotificationKind
from schemas.topics import NOTIFICATION_RETRY_TIERS, Topic
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult, due_from_header, due_header
from worker.core.errors import PermanentError, RetryableError
from worker.core.records import OutRecord, Record
from worker.services.notification_text import email_text, language, push_text
from worker.services.retry import call_with_retry, next_retry

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DELAYS = (10.0, 60.0, 600.0)


def test_each_failed_attempt_waits_in_the_next_tier_and_the_last_repeats() -> None:
    deadline = NOW + timedelta(days=1)
    plan = [next_retry(n, NOW, deadline, DELAYS, NOTIFICATION_RETRY_TIERS) for n in (1, 2, 3, 4, 9)]
    assert [p.tier for p in plan if p] == [
        Topic.NOTIFICATIONS_RETRY_1,
        Topic.NOTIFICATIONS_RETRY_2,
        Topic.NOTIFICATIONS_RETRY_3,
        Topic.NOTIFICATIONS_RETRY_4,
        Topic.NOTIFICATIONS_RETRY_4,
    ]
    assert [p.due_at - NOW for p in plan if p][-1] == timedelta(seconds=600)


def test_there_is_no_next_attempt_after_the_deadline() -> None:
    assert next_retry(1, NOW, NOW + timedelta(seconds=10), DELAYS, NOTIFICATION_RETRY_TIERS) is None
    assert next_retry(1, NOW, NOW + timedelta(seconds=11), DELAYS, NOTIFICATION_RETRY_TIERS)


async def test_a_single_call_is_retried_in_process_only_for_retryable_errors() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RetryableError("blip")
        return "ok"

    assert await call_with_retry(flaky, 2) == "ok"

    async def refused() -> None:
        calls.append(1)
        raise PermanentError("no")

    calls.clear()
    with pytest.raises(PermanentError):
        await call_with_retry(refused, 3)
    assert len(calls) == 1


def test_the_language_is_the_first_preferred_one_postino_speaks() -> None:
    assert language(["en_GB", "it_IT"]) == "en"
    assert language(["de_DE", "en_US"]) == "en"
    assert language(["de_DE"]) == "it"
    assert language([]) == "it"


def test_a_push_shows_the_organisation_and_subject_unless_secure() -> None:
    text = push_text(NotificationKind.MESSAGE, "it", "Comune di Roma", "TARI 2026", secure=False)
    assert (text.title, text.body) == ("Comune di Roma", "TARI 2026")
    anonymous = push_text(NotificationKind.MESSAGE, "en", "Comune", "TARI 2026", secure=True)
    assert anonymous.title == "You have a new message"
    assert "TARI" not in anonymous.body


def test_the_last_payment_reminder_says_it_is_the_last() -> None:
    last = push_text(NotificationKind.REMINDER_PAYMENT_LAST, "it", "Comune", "TARI", secure=False)
    other = push_text(NotificationKind.REMINDER_PAYMENT, "it", "Comune", "TARI", secure=False)
    assert "Ultimo" in last.body and "Ultimo" not in other.body
    assert (
        "Last"
        in push_text(NotificationKind.REMINDER_PAYMENT_LAST, "en", "C", "T", secure=True).title
    )


def test_a_secure_email_carries_no_content() -> None:
    mail = email_text(NotificationKind.MESSAGE, "it", "Comune", "TARI 2026", "Testo", secure=True)
    assert "TARI" not in mail.subject + mail.body and "Testo" not in mail.body
    assert "Comune" not in mail.body
    plain = email_text(NotificationKind.MESSAGE, "it", "Comune", "TARI 2026", "Testo", secure=False)
    assert "TARI 2026" in plain.subject and "Testo" in plain.body


# --- the runner pauses only the partition whose next record is not yet due ---------------

RETRY, MAIN = TopicPartition("retry", 0), TopicPartition("main", 0)


def _record(tp: TopicPartition, offset: int, due: float | None) -> ConsumerRecord[bytes, bytes]:
    headers = [due_header(due)] if due is not None else []
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", b"v", None, 1, 1, headers)


class SchedulingConsumer:
    def __init__(self, fetches: list[dict[TopicPartition, list[Any]]]) -> None:
        self.fetches = fetches
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: set[TopicPartition] = set()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def subscribe(self, topics: Sequence[str], listener: Any = None) -> None: ...

    def assignment(self) -> set[TopicPartition]:
        return {RETRY, MAIN}

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        return self.fetches.pop(0) if self.fetches else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)

    def highwater(self, tp: TopicPartition) -> int | None:
        return None


class NullPublisher:
    async def publish_many(self, records: Sequence[OutRecord]) -> None: ...


async def test_a_record_not_yet_due_pauses_its_partition_alone_until_due() -> None:
    now = [1000.0]
    consumer = SchedulingConsumer(
        [
            {
                RETRY: [
                    _record(RETRY, 5, 999.0),
                    _record(RETRY, 6, 1010.0),
                    _record(RETRY, 7, 999.0),
                ],
                MAIN: [_record(MAIN, 0, None), _record(MAIN, 1, None)],
            }
        ]
    )
    seen: list[tuple[str, int]] = []

    async def handler(records: Sequence[Record]) -> BatchResult:
        seen.extend((r.topic, r.offset) for r in records)
        return BatchResult()

    runner = ConsumerRunner(
        role="t",
        consumer=consumer,  # type: ignore[arg-type]
        topics=["retry", "main"],
        handler=handler,
        publisher=NullPublisher(),  # type: ignore[arg-type]
        due_at=due_from_header,
        clock=lambda: now[0],
    )
    assert await runner.poll_once(timeout_ms=100) == 3
    assert sorted(seen) == [("main", 0), ("main", 1), ("retry", 5)]
    assert consumer.commits == [{RETRY: 6, MAIN: 2}]
    assert consumer.seeks == [(RETRY, 6)]
    assert consumer.paused == {RETRY}
    await runner.poll_once(timeout_ms=100)
    assert consumer.paused == {RETRY}  # not due yet
    now[0] = 1010.0
    await runner.poll_once(timeout_ms=100)
    assert consumer.paused == set()
