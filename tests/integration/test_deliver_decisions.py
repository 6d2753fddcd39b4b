"""Deliver over the real broker and PostgreSQL, for records the ingress accepted:
every rejection reason, every preference mode, FAILED for a vanished service, the
status events and the notification requests read back from their topics."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from schemas import codecs
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.factories import create_profile
from tests.integration.deliver_helpers import accepted, citizen, rows, service_entry
from tests.integration.helpers import drain, read_topic, status_events
from worker.bootstrap import Runtime
from worker.ids import notification_id


async def status_by_message(runtime: Runtime) -> dict[str, MessageStatusChanged]:
    events = await status_events(runtime)
    return {e.message_id: e for e in events if isinstance(e, MessageStatusChanged)}


async def test_each_rejection_reason_and_preference_mode(runtime: Runtime) -> None:
    service = await service_entry(runtime)
    cases: dict[str, tuple[dict[str, Any], bool | None, tuple[str, str | None]]] = {
        # name: (profile fields, service preference inbox flag or None, expected)
        "auto_default": ({}, None, ("PROCESSED", None)),
        "auto_opt_out": ({}, False, ("REJECTED", "SERVICE_NOT_ALLOWED")),
        "manual_none": ({"preferences_mode": "MANUAL"}, None, ("REJECTED", "SERVICE_NOT_ALLOWED")),
        "manual_enabled": ({"preferences_mode": "MANUAL"}, True, ("PROCESSED", None)),
        "legacy_blocked": (
            {"preferences_mode": "LEGACY", "blocked_channels": {service.id: ["INBOX"]}},
            None,
            ("REJECTED", "SERVICE_NOT_ALLOWED"),
        ),
        "legacy_open": (
            {"preferences_mode": "LEGACY", "blocked_channels": {"x": ["INBOX"]}},
            False,
            ("PROCESSED", None),
        ),
        "inbox_disabled": ({"inbox_enabled": False}, None, ("REJECTED", "SERVICE_NOT_ALLOWED")),
    }
    expected: dict[str, tuple[str, str | None]] = {}
    for n, (profile, inbox, outcome) in enumerate(cases.values()):
        await create_profile(runtime, citizen(n), **profile)
        if inbox is not None:
            await runtime.pool.execute(
                "INSERT INTO service_preferences (fiscal_code, service_id, is_inbox_enabled)"
                " VALUES ($1, $2, $3)",
                citizen(n),
                service.id,
                inbox,
            )
        expected[await accepted(runtime, service, citizen(n))] = outcome
    expected[await accepted(runtime, service, citizen(99))] = ("REJECTED", "USER_NOT_FOUND")

    assert await drain(runtime) == len(expected)

    stored = await rows(runtime)
    assert {i: (r["status"], r["rejection_reason"]) for i, r in stored.items()} == expected
    events = await status_by_message(runtime)
    assert {i: (e.status.value, e.rejection_reason) for i, e in events.items()} == expected
    assert {e.seq for e in events.values()} == {1}


async def test_a_service_that_vanished_after_acceptance_fails_the_message(
    runtime: Runtime,
) -> None:
    deleted = await service_entry(runtime, state="deleted")
    unknown = replace(deleted, id="svc-never-created")
    await create_profile(runtime, citizen(1))
    gone = await accepted(runtime, deleted, citizen(1))
    never = await accepted(runtime, unknown, citizen(1))

    await drain(runtime)

    stored = await rows(runtime)
    assert (stored[gone]["status"], stored[gone]["failure_reason"]) == (
        "FAILED",
        "SERVICE_DELETED",
    )
    assert (stored[never]["status"], stored[never]["failure_reason"]) == (
        "FAILED",
        "SERVICE_NOT_FOUND",
    )
    events = await status_by_message(runtime)
    assert events[never].failure_reason == "SERVICE_NOT_FOUND"
    assert await read_topic(runtime, Topic.SUBMITTED.dlq()) == []


async def test_a_processed_message_requests_one_notification_per_channel(
    runtime: Runtime,
) -> None:
    service = await service_entry(runtime)
    email = {"email": "mario@example.org", "email_validated": True}
    await create_profile(runtime, citizen(1), **email)
    await create_profile(runtime, citizen(2), **email, push_enabled=False)
    both = await accepted(runtime, service, citizen(1))
    secure = await accepted(runtime, service, citizen(1), require_secure_channels=True)
    email_only = await accepted(runtime, service, citizen(2))
    await accepted(runtime, service, citizen(3))  # no profile: no notification

    await drain(runtime)

    records = await read_topic(runtime, Topic.NOTIFICATIONS)
    requests = [(codecs.NOTIFICATION.decode(r.value or b""), r.key) for r in records]
    assert {(q.message_id, q.channel.value) for q, _ in requests} == {
        (both, "PUSH"),
        (both, "EMAIL"),
        (secure, "PUSH"),
        (email_only, "EMAIL"),
    }
    created = await runtime.pool.fetchval("SELECT created_at FROM messages WHERE id = $1", both)
    push, key = next((q, k) for q, k in requests if q.message_id == both)
    assert push.notification_id == notification_id(both, push.channel.value, "MESSAGE")
    assert push.deadline == created + timedelta(seconds=3600)
    assert key == citizen(1).encode()
    assert await runtime.pool.fetchval("SELECT count(*) FROM notifications") == 0
