"""notify's store on the real PostgreSQL: a group of claims is one statement, a group of
outcomes one transaction, with the same answers as one call per send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.enums import Channel, NotificationStatus
from schemas.events import NotificationRequest
from tests.factories import create_service
from tests.integration.notify_helpers import request, seed_message
from worker.adapters.notifications_repo import PostgresNotifications
from worker.bootstrap import Runtime
from worker.services.notify_ports import Lease, Outcome

MESSAGES = ("01J0000000000000000000000A", "01J0000000000000000000000B")


async def _seeded(runtime: Runtime) -> str:
    service_id, _ = await create_service(runtime, organization_name="Comune di Esempio")
    for message_id in MESSAGES:
        await seed_message(runtime, service_id, message_id)
    return service_id


async def _push_and_mail(
    runtime: Runtime,
) -> tuple[PostgresNotifications, NotificationRequest, NotificationRequest]:
    """The store, and a push and an e-mail request of the first seeded message."""
    service_id = await _seeded(runtime)
    push, mail = (request(MESSAGES[0], service_id, c) for c in (Channel.PUSH, Channel.EMAIL))
    return PostgresNotifications(runtime.pool), push, mail


def _lease(owner: str = "notify@test") -> Lease:
    now = datetime.now(UTC)
    return Lease(owner, now, now + timedelta(seconds=60))


async def _message_seq(runtime: Runtime, message_id: str) -> int:
    seq = await runtime.pool.fetchval("SELECT status_seq FROM messages WHERE id = $1", message_id)
    assert isinstance(seq, int)
    return seq


async def test_a_group_of_outcomes_numbers_each_messages_events_in_one_transaction(
    runtime: Runtime,
) -> None:
    service_id = await _seeded(runtime)
    store = PostgresNotifications(runtime.pool)
    requests = [request(m, service_id, c) for m in MESSAGES for c in (Channel.EMAIL, Channel.PUSH)]
    assert await store.claim(requests, _lease()) == {r.notification_id for r in requests}
    before = {m: await _message_seq(runtime, m) for m in MESSAGES}

    stored = await store.record_outcomes(
        [Outcome(r, NotificationStatus.SENT, 1) for r in reversed(requests)]
    )

    assert [row.id for row, _ in stored] == [r.notification_id for r in reversed(requests)]
    assert all(changed and row.status is NotificationStatus.SENT for row, changed in stored)
    assert all(row.claimed_at is None and row.lease_until is None for row, _ in stored)
    for message_id in MESSAGES:
        seqs = sorted(row.status_seq or 0 for row, _ in stored if row.message_id == message_id)
        assert seqs == [before[message_id] + 1, before[message_id] + 2]
        assert await _message_seq(runtime, message_id) == before[message_id] + 2


async def test_a_final_row_in_a_group_is_kept_and_the_others_are_written(
    runtime: Runtime,
) -> None:
    store, push, mail = await _push_and_mail(runtime)
    [(sent, _)] = await store.record_outcomes([Outcome(push, NotificationStatus.SENT, 1)])

    stored = await store.record_outcomes(
        [
            Outcome(push, NotificationStatus.THROTTLED, 2, "late", datetime.now(UTC)),
            Outcome(mail, NotificationStatus.FAILED, 1, "refused"),
        ]
    )

    assert stored[0] == (sent, False)
    assert stored[1][0].status is NotificationStatus.FAILED and stored[1][1]
    assert stored[1][0].status_seq == (sent.status_seq or 0) + 1


async def test_two_outcomes_of_one_notification_in_a_group_are_written_in_order(
    runtime: Runtime,
) -> None:
    service_id = await _seeded(runtime)
    store = PostgresNotifications(runtime.pool)
    push = request(MESSAGES[0], service_id, Channel.PUSH)
    due = datetime.now(UTC) + timedelta(seconds=10)

    stored = await store.record_outcomes(
        [
            Outcome(push, NotificationStatus.THROTTLED, 1, "busy", due),
            Outcome(push, NotificationStatus.SENT, 2),
        ]
    )

    (first, first_changed), (second, second_changed) = stored
    assert first.status is NotificationStatus.THROTTLED and first_changed
    assert second.status is NotificationStatus.SENT and second_changed
    assert (second.status_seq or 0) == (first.status_seq or 0) + 1


async def test_a_group_claim_takes_only_what_no_other_live_instance_holds(
    runtime: Runtime,
) -> None:
    store, push, mail = await _push_and_mail(runtime)
    assert await store.claim([push], _lease("notify@other")) == {push.notification_id}

    claimed = await store.claim([mail, push, mail], _lease())

    assert claimed == {mail.notification_id}
    owners = await runtime.pool.fetch("SELECT id, claimed_by FROM notifications ORDER BY id")
    assert {r["id"]: r["claimed_by"] for r in owners} == {
        push.notification_id: "notify@other",
        mail.notification_id: "notify@test",
    }
