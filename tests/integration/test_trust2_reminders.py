"""Premium reminders follow the citizen's switches (docs/integrators/premium.md).

A reminder is a push: it goes only where a message's push would go now (profile push
and inbox on, the service's inbox and push not blocked by the citizen's preference,
as of the round, not as of delivery). And a reminder of the unread kind is never
reported to the sender: its status event would tell the sender the message is
still unread, which only a citizen's read consent may reveal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.enums import Channel, NotificationKind
from schemas.events import NotificationStatusChanged
from tests.conftest import eventually
from tests.factories import create_profile, create_service, insert_row
from tests.integration.helpers import status_events
from tests.integration.notify_helpers import (
    Receiver,
    publish_requests,
    request,
    running,
    serving,
    with_settings,
)
from tests.integration.premium_helpers import CITIZEN, insert_message
from worker.bootstrap import Runtime, notify_channels
from worker.roles import notify
from worker.roles.reminders import run_round

ROME = ZoneInfo("Europe/Rome")
ARRIVAL = datetime(2024, 5, 1, 10, 0, tzinfo=ROME)
DUE = ARRIVAL + timedelta(days=3)


async def _planned_for(runtime: Runtime, **profile: Any) -> int:
    """Reminders planned for one unread ADVANCED message, three days after arrival."""
    await create_profile(runtime, CITIZEN, reminder_consent="ENABLED", **profile)
    await insert_message(runtime, "M-1", sender_service_id="svc-premium", created_at=ARRIVAL)
    return (await run_round(runtime, DUE)).planned


async def _prefer(runtime: Runtime, **switches: bool) -> None:
    await insert_row(
        runtime,
        "service_preferences",
        {"fiscal_code": CITIZEN, "service_id": "svc-premium", **switches},
    )


async def test_a_citizen_with_push_off_gets_no_reminder(runtime: Runtime) -> None:
    assert await _planned_for(runtime, push_enabled=False) == 0


async def test_a_citizen_with_the_inbox_off_gets_no_reminder(runtime: Runtime) -> None:
    assert await _planned_for(runtime, inbox_enabled=False) == 0


async def test_a_later_opt_out_of_the_service_stops_the_reminders(runtime: Runtime) -> None:
    await _prefer(runtime, is_inbox_enabled=False)
    assert await _planned_for(runtime) == 0


async def test_the_service_push_switched_off_stops_the_reminders(runtime: Runtime) -> None:
    await _prefer(runtime, is_push_enabled=False)
    assert await _planned_for(runtime) == 0


async def test_a_legacy_profile_blocking_the_service_push_gets_no_reminder(
    runtime: Runtime,
) -> None:
    blocked = {"svc-premium": ["PUSH"]}
    assert await _planned_for(runtime, preferences_mode="LEGACY", blocked_channels=blocked) == 0


async def test_manual_mode_without_a_preference_gets_no_reminder(runtime: Runtime) -> None:
    assert await _planned_for(runtime, preferences_mode="MANUAL") == 0


async def test_with_every_switch_on_the_reminder_is_planned(runtime: Runtime) -> None:
    assert await _planned_for(runtime) == 1


async def test_an_unread_reminder_is_never_reported_to_the_sender(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await insert_message(runtime, "M-2", sender_service_id=service_id)
    await _prefer_for(runtime, service_id, can_access_message_read_status=False)
    reminder = request("M-2", service_id, Channel.PUSH, kind=NotificationKind.REMINDER_READ)
    payment = request("M-2", service_id, Channel.PUSH, kind=NotificationKind.REMINDER_PAYMENT)
    seq_before = await runtime.pool.fetchval("SELECT status_seq FROM messages WHERE id = 'M-2'")

    async with serving(Receiver()) as push:
        rt = with_settings(runtime, "notify", push_url=push.url, call_attempts=1)
        await publish_requests(rt, reminder, payment)
        async with (
            notify_channels(rt.settings.notify) as channels,
            running(notify.build(rt, channels)),
        ):
            await eventually(lambda: _sent(runtime), lambda n: n == 2)
    assert len(push.calls) == 2

    events = [e for e in await status_events(runtime) if isinstance(e, NotificationStatusChanged)]
    kinds = [e.notification_kind for e in events]
    assert NotificationKind.REMINDER_READ not in kinds
    assert kinds == [NotificationKind.REMINDER_PAYMENT]
    # No gap in the sender's sequence numbers hints at an event it did not get.
    assert [e.seq for e in events] == [seq_before + 1]


async def _prefer_for(runtime: Runtime, service_id: str, **switches: bool) -> None:
    await insert_row(
        runtime,
        "service_preferences",
        {"fiscal_code": CITIZEN, "service_id": service_id, **switches},
    )


async def _sent(runtime: Runtime) -> int:
    count: int = await runtime.pool.fetchval(
        "SELECT count(*) FROM notifications WHERE status = 'SENT'"
    )
    return count
