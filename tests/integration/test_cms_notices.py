"""Notices to a public body (docs/integrators/services.md) on the real database: queued with what
caused them, de-duplicated per hour, in the service's history, sent by e-mail."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas import codecs
from schemas.enums import MessageStatus
from schemas.events import MessageStatusChanged
from schemas.topics import Topic
from tests.conftest import eventually
from tests.factories import create_service, message_body
from tests.fakes import Clock
from tests.integration.cms_helpers import BODY, CMS, Client, body_with_key, call, payload
from tests.integration.helpers import ADMIN
from tests.integration.sender_helpers import CITIZEN, key
from worker.adapters.notices_repo import PostgresNotices
from worker.bootstrap import Runtime, callback_store, notice_stores
from worker.core.errors import RetryableError
from worker.core.records import Record
from worker.ingress.app import reload_services
from worker.ingress.limits import flush_now
from worker.roles.callbacks import handlers
from worker.services.callback_pool import FirstAttempts
from worker.services.callback_send import CallbackDeps
from worker.services.notice_outbox import notices_round, send_due

SERVICE_EMAIL = "tributi@comune.example.org"
LATER = datetime(2100, 1, 1, tzinfo=UTC)
BODY_EMAIL = f"urp@{BODY}.example.org"


class Mailbox:
    """A `Mailer` that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, subject: str, body: str, *, key: str | None = None) -> None:
        self.sent.append((to, subject))


class Receiver:
    """A webhook receiver that is down until told otherwise."""

    def __init__(self) -> None:
        self.down = True

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> None:
        if self.down:
            raise RetryableError(f"{url} answered 503")


async def _notices(runtime: Runtime, kind: str) -> list[Any]:
    return await runtime.pool.fetch(
        "SELECT status, recipients, subject FROM service_notices WHERE kind = $1", kind
    )


async def _history_actions(runtime: Runtime, service_id: str) -> list[str]:
    rows = await runtime.pool.fetch(
        "SELECT action FROM service_history WHERE service_id = $1 ORDER BY id", service_id
    )
    return [r["action"] for r in rows]


async def test_an_hour_of_failing_callbacks_sends_one_notice_then_one_when_they_recover(
    runtime: Runtime, client: Client
) -> None:
    await body_with_key(client)
    service_id, _ = await create_service(
        runtime,
        callback_url="http://127.0.0.1:9/hook",
        callback_secret="s3cret-s3cret-s3cret",
        email=SERVICE_EMAIL,
    )
    clock, receiver, mailbox = Clock(), Receiver(), Mailbox()
    # The callbacks role's parts, on the real database, without its consumers.
    settings = runtime.settings
    deps = CallbackDeps(
        callback_store(runtime), receiver, settings.kafka.topics, settings.callbacks, clock
    )
    attempts = FirstAttempts(deps, runtime.publisher, watch=False)
    first, _ = handlers(deps, attempts)
    stores = notice_stores(runtime)
    topic = settings.kafka.topics.name(Topic.STATUS)

    async def a_minute_of_callbacks(n: int) -> None:
        event = MessageStatusChanged(
            message_id=f"01J00000000000000000000{n:03d}",
            sender_service_id=service_id,
            seq=1,
            at=clock(),
            status=MessageStatus.PROCESSED,
        )
        await first([Record(topic, 0, n, None, codecs.STATUS.encode(event), 0, ())])
        await eventually(lambda: _in_flight(attempts), lambda n: n == 0)  # they run apart
        await notices_round(deps.health, stores, mailbox, clock())
        clock.advance(60)

    for minute in range(60):
        await a_minute_of_callbacks(minute)
    failing = await _notices(runtime, "callbacks_failing")
    assert [(n["status"], list(n["recipients"])) for n in failing] == [
        ("sent", [SERVICE_EMAIL, BODY_EMAIL])
    ]
    assert [to for to, subject in mailbox.sent] == [SERVICE_EMAIL, BODY_EMAIL]

    receiver.down = False
    for minute in range(60, 63):
        await a_minute_of_callbacks(minute)
    assert [n["status"] for n in await _notices(runtime, "callbacks_recovered")] == ["sent"]
    assert len(mailbox.sent) == 4
    actions = await _history_actions(runtime, service_id)
    assert actions == ["notice_callbacks_failing", "notice_callbacks_recovered"]


async def _in_flight(attempts: FirstAttempts) -> int:
    return attempts.in_flight


async def test_review_outcomes_unpublishing_and_key_changes_are_told_once_an_hour(
    runtime: Runtime, client: Client
) -> None:
    manage = await body_with_key(client)
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    one, admin_one = f"{CMS}/{created['id']}", f"/api/v1/admin/services/{created['id']}"
    await call(client, "PUT", f"{one}/review", manage, 204, json={})
    await call(client, "POST", f"{admin_one}/reject", ADMIN, 200, json={"reason": "logo assente"})
    await call(client, "PUT", one, manage, 200, json=payload(name="Tributi con logo"))
    await call(client, "PUT", f"{one}/review", manage, 204, json={})
    await call(client, "POST", f"{admin_one}/approve", ADMIN, 200)
    await call(client, "POST", f"{one}/release", manage, 204)
    await call(client, "DELETE", f"{one}/release", manage, 204)
    for _ in range(3):  # three regenerations in a minute: one notice
        await call(client, "PUT", f"{one}/keys/primary", manage, 200)
    kinds = await runtime.pool.fetch("SELECT kind FROM service_notices ORDER BY created_at, kind")
    assert sorted(r["kind"] for r in kinds) == [
        "key_regenerated",
        "review_approved",
        "review_rejected",
        "unpublished",
    ]
    [rejected] = await _notices(runtime, "review_rejected")
    assert list(rejected["recipients"]) == [SERVICE_EMAIL, BODY_EMAIL]
    mailbox = Mailbox()
    assert await send_due(PostgresNotices(runtime.pool), mailbox, LATER) == 4
    assert len(mailbox.sent) == 8
    assert await send_due(PostgresNotices(runtime.pool), mailbox, LATER) == 0
    actions = await _history_actions(runtime, created["id"])
    assert actions.count("notice_key_regenerated") == 1
    assert actions.count("regenerate_primary_key") == 3


async def test_the_daily_quota_is_told_at_80_and_100_percent_once_a_day(
    runtime: Runtime, client: Client
) -> None:
    await body_with_key(client)
    service_id, api_key = await create_service(runtime, daily_quota=5, email=SERVICE_EMAIL)
    await reload_services(client.app)

    async def send(times: int) -> None:
        for _ in range(times):
            resp = await client.post(
                "/api/v1/messages", json=message_body(CITIZEN), headers=key(api_key)
            )
            assert resp.status == 201, await resp.text()
        await flush_now(client.app)

    await send(3)
    assert await runtime.pool.fetchval("SELECT count(*) FROM service_notices") == 0
    await send(1)
    assert [n["subject"] for n in await _notices(runtime, "quota_80")] == [
        "Quota giornaliera al 80%: Servizio " + service_id.split("-")[1]
    ]
    await send(1)
    await flush_now(client.app)
    assert len(await _notices(runtime, "quota_100")) == 1
    assert len(await _notices(runtime, "quota_80")) == 1
