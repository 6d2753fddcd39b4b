"""Helpers of the notify and callbacks tests: receivers, seeded rows, running roles."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from schemas import codecs
from schemas.enums import Channel, NotificationKind
from schemas.events import NotificationRequest
from schemas.topics import Topic
from tests.factories import MARKDOWN
from worker import ids
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.records import OutRecord

CITIZEN = "RSSMRA80A01H501U"


@dataclass
class Receiver:
    """A local HTTP receiver: answers `fail_status` for the first `failures` calls."""

    failures: int = 0
    fail_status: int = 503
    hang: asyncio.Event | None = None
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append((dict(request.headers), body))
        if self.hang is not None:
            await self.hang.wait()
        if len(self.calls) <= self.failures:
            return web.Response(status=self.fail_status)
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def serving(receiver: Receiver, path: str = "/hook") -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post(path, receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}{path}"
    try:
        yield receiver
    finally:
        if receiver.hang is not None:
            receiver.hang.set()
        await runner.cleanup()


async def seed_message(
    runtime: Runtime, service_id: str, message_id: str, *, secure: bool | None = None
) -> None:
    content: dict[str, Any] = {"subject": "Avviso di pagamento TARI", "markdown": MARKDOWN}
    if secure is not None:
        content["require_secure_channels"] = secure
    await runtime.pool.execute(
        "INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,"
        " feature_level_type, content, status) VALUES ($1, $2, $3, now(), 3600, 'STANDARD',"
        " $4, 'PROCESSED')",
        message_id,
        CITIZEN,
        service_id,
        content,
    )


def request(
    message_id: str,
    service_id: str,
    channel: Channel,
    *,
    ttl: float = 3600,
    kind: NotificationKind = NotificationKind.MESSAGE,
) -> NotificationRequest:
    return NotificationRequest(
        notification_id=ids.notification_id(message_id, channel, kind),
        message_id=message_id,
        fiscal_code=CITIZEN,
        sender_service_id=service_id,
        channel=channel,
        deadline=datetime.now(UTC) + timedelta(seconds=ttl),
        kind=kind,
    )


async def publish_requests(runtime: Runtime, *requests: NotificationRequest) -> None:
    topic = runtime.settings.kafka.topics.name(Topic.NOTIFICATIONS)
    await runtime.publisher.publish_many(
        [OutRecord(topic, codecs.NOTIFICATION.encode(r), r.fiscal_code.encode()) for r in requests]
    )


def with_settings(runtime: Runtime, section: str, **changes: Any) -> Runtime:
    settings = runtime.settings
    updated = replace(getattr(settings, section), **changes)
    return replace(runtime, settings=replace(settings, **{section: updated}))


@contextlib.asynccontextmanager
async def running(*runners: ConsumerRunner) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield
    finally:
        for r in runners:
            r.request_stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for r in runners:
            await r.stop()
