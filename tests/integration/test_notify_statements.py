"""notify's statements on the real PostgreSQL: one round trip loads a batch's rows and
context, one records a group of outcomes, numbering its events once per change and doing
nothing the second time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from schemas import codecs
from schemas.enums import Channel, NotificationKind, NotificationStatus
from schemas.events import NotificationRequest
from schemas.topics import Topic
from tests.factories import MARKDOWN, create_profile, create_service
from tests.fakes import FakePushGateway
from tests.integration.notify_helpers import CITIZEN, request, seed_message
from worker.adapters.notifications_repo import PostgresNotifications
from worker.adapters.postgres import create_pool
from worker.bootstrap import Runtime
from worker.core.records import Record
from worker.services.clock import utc_now
from worker.services.notify import NotifyDeps, notify_batch
from worker.services.notify_ports import (
    Channels,
    Lease,
    MessageInfo,
    Outcome,
    Recipient,
    SenderInfo,
)

MESSAGE = "01J0000000000000000000000A"
KINDS = (NotificationKind.MESSAGE, NotificationKind.REMINDER_PAYMENT)


async def _requests(runtime: Runtime) -> list[NotificationRequest]:
    """Four notifications of one stored message: push and e-mail, two kinds each."""
    service_id, _ = await create_service(runtime, organization_name="Comune di Esempio")
    await seed_message(runtime, service_id, MESSAGE)
    return [request(MESSAGE, service_id, c, kind=k) for k in KINDS for c in Channel]


def _lease() -> Lease:
    now = datetime.now(UTC)
    return Lease("notify@test", now, now + timedelta(seconds=60))


async def _message_seq(runtime: Runtime) -> int:
    seq = await runtime.pool.fetchval("SELECT status_seq FROM messages WHERE id = $1", MESSAGE)
    assert isinstance(seq, int)
    return seq


@contextmanager
def _statements(conn: asyncpg.Connection) -> Iterator[list[str]]:
    """Every statement the connection sends meanwhile (BEGIN and COMMIT included)."""
    seen: list[str] = []

    def logged(record: Any) -> None:
        seen.append(record.query)

    conn.add_query_logger(logged)
    try:
        yield seen
    finally:
        conn.remove_query_logger(logged)


@asynccontextmanager
async def _one_connection_store(runtime: Runtime) -> AsyncIterator[tuple[Any, Any]]:
    url = runtime.settings.database.url
    assert url is not None
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            raw = conn._con  # the connection under the pool's proxy, to log on
        yield PostgresNotifications(pool), raw
    finally:
        await pool.close()


async def test_one_round_trip_loads_a_batchs_rows_and_context(runtime: Runtime) -> None:
    requests = await _requests(runtime)
    await create_profile(
        runtime, CITIZEN, email="mario@example.org", email_validated=True,
        preferred_languages=["it_IT"],
    )  # fmt: skip
    async with _one_connection_store(runtime) as (store, conn):
        [(sent, _)] = await store.record_outcomes(
            [Outcome(requests[0], NotificationStatus.SENT, 1)]
        )

        await store.load_batch(requests[1:])  # prepared (and its types looked up) once

        with _statements(conn) as sent_statements:
            rows, context = await store.load_batch(requests)

    assert len(sent_statements) == 1
    assert rows == {sent.id: sent}
    assert context.recipients == {CITIZEN: Recipient("mario@example.org", True, ("it_IT",))}
    assert context.messages[MESSAGE] == MessageInfo("Avviso di pagamento TARI", MARKDOWN, None)
    assert context.senders == {
        requests[0].sender_service_id: SenderInfo("Comune di Esempio", False)
    }


async def test_one_round_trip_records_a_group_of_outcomes_and_numbers_their_events(
    runtime: Runtime,
) -> None:
    requests = await _requests(runtime)
    async with _one_connection_store(runtime) as (store, conn):
        await store.claim(requests, _lease())
        before = await _message_seq(runtime)
        # The first use on a connection prepares the statement (and asyncpg looks up
        # its types); from then on the cached statement is one round trip.
        await store.record_outcomes([Outcome(requests[0], NotificationStatus.SENT, 1)])

        with _statements(conn) as sent:
            stored = await store.record_outcomes(
                [Outcome(r, NotificationStatus.SENT, 1) for r in requests[1:]]
            )

    assert len(sent) == 1
    assert all(changed for _, changed in stored)
    seqs = sorted((row.id, row.status_seq) for row, _ in stored)
    assert [seq for _, seq in seqs] == [before + 2, before + 3, before + 4]
    assert await _message_seq(runtime) == before + 4


async def test_a_redone_group_changes_nothing_and_returns_the_identical_rows(
    runtime: Runtime,
) -> None:
    requests = await _requests(runtime)
    store = PostgresNotifications(runtime.pool)
    due = datetime.now(UTC) + timedelta(seconds=30)
    outcomes = [
        Outcome(requests[0], NotificationStatus.SENT, 1),
        Outcome(requests[1], NotificationStatus.THROTTLED, 1, "busy", due),
        Outcome(requests[2], NotificationStatus.FAILED, 1, "refused"),
    ]
    first = await store.record_outcomes(outcomes)
    seq = await _message_seq(runtime)

    again = await store.record_outcomes(outcomes)

    assert [row for row, _ in again] == [row for row, _ in first]  # updated_at included
    assert [changed for _, changed in again] == [False, False, False]
    assert await _message_seq(runtime) == seq


async def test_the_message_seq_moves_once_per_changed_row_only(runtime: Runtime) -> None:
    requests = await _requests(runtime)
    store = PostgresNotifications(runtime.pool)
    due = datetime.now(UTC) + timedelta(seconds=30)
    [(throttled, _)] = await store.record_outcomes(
        [Outcome(requests[0], NotificationStatus.THROTTLED, 1, "busy", due)]
    )
    seq = await _message_seq(runtime)

    stored = await store.record_outcomes(
        [
            Outcome(requests[0], NotificationStatus.THROTTLED, 2, "busy again", due),  # same
            Outcome(requests[1], NotificationStatus.SENT, 1),  # new row
            Outcome(requests[2], NotificationStatus.EXPIRED, 0, "deadline passed"),  # new row
        ]
    )

    (retried, retried_changed), (_, sent_changed), (_, expired_changed) = stored
    assert not retried_changed and retried.status_seq == throttled.status_seq
    assert retried.attempts == 2  # written, without a new event
    assert sent_changed and expired_changed
    assert await _message_seq(runtime) == seq + 2


async def test_a_reminder_read_outcome_is_written_without_an_event(runtime: Runtime) -> None:
    requests = await _requests(runtime)
    store = PostgresNotifications(runtime.pool)
    service_id = requests[0].sender_service_id
    silent = request(MESSAGE, service_id, Channel.PUSH, kind=NotificationKind.REMINDER_READ)
    seq = await _message_seq(runtime)

    [(row, changed)] = await store.record_outcomes([Outcome(silent, NotificationStatus.SENT, 1)])

    assert row.status is NotificationStatus.SENT and row.status_seq is None and not changed
    assert await _message_seq(runtime) == seq


async def test_concurrent_groups_of_one_message_take_distinct_seqs(runtime: Runtime) -> None:
    requests = await _requests(runtime)
    store = PostgresNotifications(runtime.pool)
    seq = await _message_seq(runtime)

    groups = await asyncio.gather(
        *(
            store.record_outcomes([Outcome(r, NotificationStatus.SENT, 1)])
            for r in requests  # four groups, four connections, one message
        )
    )

    seqs = sorted(row.status_seq or 0 for group in groups for row, _ in group)
    assert seqs == [seq + 1, seq + 2, seq + 3, seq + 4]
    assert await _message_seq(runtime) == seq + 4


async def test_concurrent_groups_over_the_same_messages_in_any_order_never_deadlock(
    runtime: Runtime,
) -> None:
    first = await _requests(runtime)
    other = "01J0000000000000000000000B"
    await seed_message(runtime, first[0].sender_service_id, other)
    second = [request(other, r.sender_service_id, r.channel, kind=r.kind) for r in first]
    store = PostgresNotifications(runtime.pool)
    pairs = list(zip(first, second, strict=True))  # each group: one of each message

    groups = await asyncio.gather(
        *(
            store.record_outcomes(
                [Outcome(r, NotificationStatus.SENT, 1) for r in (pair if n % 2 else pair[::-1])]
            )
            for n, pair in enumerate(pairs)
        )
    )

    for message_id in (MESSAGE, other):
        seqs = sorted(
            row.status_seq or 0 for g in groups for row, _ in g if row.message_id == message_id
        )
        assert seqs == list(range(seqs[0], seqs[0] + 4))


async def test_a_redone_batch_re_emits_byte_identical_status_events(runtime: Runtime) -> None:
    requests = await _requests(runtime)
    await create_profile(runtime, CITIZEN, email="mario@example.org", email_validated=True)
    records = [
        Record("t", 0, n, r.fiscal_code.encode(), codecs.NOTIFICATION.encode(r), 0)
        for n, r in enumerate(requests)
        if r.channel is Channel.PUSH
    ]
    push = FakePushGateway()
    settings = runtime.settings
    deps = NotifyDeps(
        PostgresNotifications(runtime.pool),
        Channels(push, None),
        settings.kafka.topics,
        settings.notify,
        utc_now,
    )
    status = settings.kafka.topics.name(Topic.STATUS)

    first = await notify_batch(records, deps)
    again = await notify_batch(records, deps)  # the crash came before the commit

    assert len(push.sent) == len(records) == 2
    events = sorted(r.value for r in first.out if r.topic == status)
    assert len(events) == 2
    assert sorted(r.value for r in again.out if r.topic == status) == events
