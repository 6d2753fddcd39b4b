"""What a sender may learn (docs/integrators/premium.md, callbacks.md), at the source of every
sender-facing copy: `read` only for an ADVANCED message read with the citizen's consent, `paid`
only for
an ADVANCED message, and only the kinds the service chose (`callback_events`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from schemas import codecs
from schemas.enums import Channel, MessageStatus, NotificationKind, NotificationStatus
from schemas.events import (
    MessagePaid,
    MessageRead,
    MessageStatusChanged,
    NotificationStatusChanged,
    StatusEvent,
)
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_profile, create_service
from tests.integration.citizen_helpers import mark_read
from tests.integration.helpers import ADMIN, drain, session, status_events
from tests.integration.notify_helpers import Receiver, running, serving, with_settings
from tests.integration.premium_helpers import (
    CITIZEN,
    RPT_ID,
    insert_message,
    payment_event,
    publish,
)
from worker.adapters.kafka import OutRecord
from worker.bootstrap import Runtime, webhook_sender
from worker.roles import payments
from worker.roles.callbacks import CallbacksRole

_CONSENT_DENIED = {
    "is_inbox_enabled": True,
    "is_push_enabled": True,
    "is_email_enabled": True,
    "can_access_message_read_status": False,
}


async def _reads(runtime: Runtime) -> list[str]:
    return [e.message_id for e in await status_events(runtime) if isinstance(e, MessageRead)]


async def test_reading_a_standard_message_tells_its_sender_nothing(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await insert_message(
        runtime, "M-STD", sender_service_id=service_id, feature_level_type="STANDARD"
    )
    await insert_message(runtime, "M-ADV", sender_service_id=service_id)
    headers = await session(client, CITIZEN)
    await mark_read(client, "M-STD", headers)
    await mark_read(client, "M-ADV", headers)

    assert await _reads(runtime) == ["M-ADV"]


async def test_a_read_without_consent_at_reading_time_is_never_sent_even_if_consent_comes_later(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN)
    await insert_message(runtime, "M-ADV", sender_service_id=service_id)
    headers = await session(client, CITIZEN)
    prefs = f"/api/v1/citizen/services/{service_id}/preferences"
    assert (await client.put(prefs, json=_CONSENT_DENIED, headers=headers)).status == 200
    await mark_read(client, "M-ADV", headers)
    allowed = {**_CONSENT_DENIED, "can_access_message_read_status": True}
    assert (await client.put(prefs, json=allowed, headers=headers)).status == 200
    await mark_read(client, "M-ADV", headers)  # a retried read re-emits the same decision

    assert await _reads(runtime) == []


async def test_a_manual_profile_without_a_preference_shares_no_read(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, CITIZEN, preferences_mode="MANUAL")
    await insert_message(runtime, "M-ADV", sender_service_id=service_id)
    await mark_read(client, "M-ADV", await session(client, CITIZEN))

    assert await _reads(runtime) == []


async def test_a_paid_standard_notice_tells_its_sender_nothing(runtime: Runtime) -> None:
    await insert_message(runtime, "M-STD", rpt_id=RPT_ID, feature_level_type="STANDARD")
    await insert_message(runtime, "M-ADV", rpt_id=RPT_ID, fiscal_code="VRDGPP80A01H501X")
    await publish(runtime, Topic.PAYMENTS, payment_event("evt-1"), RPT_ID.encode())
    await drain(runtime, payments.build)

    paid = await runtime.pool.fetch("SELECT id FROM messages WHERE paid_at IS NOT NULL")
    assert sorted(r["id"] for r in paid) == ["M-ADV", "M-STD"]  # both are paid in the inbox
    events = [e.message_id for e in await status_events(runtime) if isinstance(e, MessagePaid)]
    assert events == ["M-ADV"]


def _events(service_id: str) -> list[StatusEvent]:
    at = datetime.now(UTC)
    common: dict[str, Any] = {"sender_service_id": service_id, "at": at}
    return [
        MessageStatusChanged(message_id="M1", seq=1, status=MessageStatus.PROCESSED, **common),
        NotificationStatusChanged(
            message_id="M1",
            seq=2,
            channel=Channel.PUSH,
            notification_kind=NotificationKind.MESSAGE,
            status=NotificationStatus.SENT,
            **common,
        ),
        MessageRead(message_id="M1", seq=3, **common),
        MessagePaid(message_id="M1", seq=4, rpt_id=RPT_ID, **common),
    ]


async def test_a_service_receives_only_the_event_kinds_it_chose(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    async with serving(Receiver()) as hook:
        created = await client.post(
            "/api/v1/manage/services",
            json={
                "name": "Tributi",
                "organization_name": "Comune",
                "organization_fiscal_code": "12345678901",
                "premium": True,
                "callback_url": hook.url,
                "callback_events": ["message", "paid"],
            },
            headers=ADMIN,
        )
        assert created.status == 201, await created.text()
        service = await created.json()
        assert service["callback_events"] == ["message", "paid"]
        topic = runtime.settings.kafka.topics.name(Topic.STATUS)
        await runtime.publisher.publish_many(
            [OutRecord(topic, codecs.STATUS.encode(e), b"M1") for e in _events(service["id"])]
        )
        fast = with_settings(runtime, "callbacks", retry_delays=(0.2,), timeout_seconds=0.5)
        async with webhook_sender(fast.settings.callbacks) as sender:
            role = CallbacksRole(fast, sender)
            try:
                async with running(*role.runners):
                    await eventually(
                        lambda: runtime.pool.fetchval("SELECT count(*) FROM callback_deliveries"),
                        lambda n: n == 2,
                    )
            finally:
                await role.stop()
    kinds = sorted(type(codecs.STATUS.decode(body)).__name__ for _, body in hook.calls)
    assert kinds == ["MessagePaid", "MessageStatusChanged"]


async def test_callback_events_are_validated_and_editable(
    runtime: Runtime, client: TestClient[Any, Any]
) -> None:
    base = {"name": "T", "organization_name": "C", "organization_fiscal_code": "12345678901"}
    bad = await client.post(
        "/api/v1/manage/services", json={**base, "callback_events": ["opened"]}, headers=ADMIN
    )
    assert bad.status == 400
    assert "callback_events" in (await bad.json())["detail"]
    twice = await client.post(
        "/api/v1/manage/services", json={**base, "callback_events": ["read", "read"]}, headers=ADMIN
    )
    assert twice.status == 400
    created = await (await client.post("/api/v1/manage/services", json=base, headers=ADMIN)).json()
    assert created["callback_events"] is None  # every kind it is entitled to
    url = f"/api/v1/manage/services/{created['id']}"
    patched = await client.patch(url, json={"callback_events": ["notification"]}, headers=ADMIN)
    assert (await patched.json())["callback_events"] == ["notification"]
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert "callback_events" in str(spec)
