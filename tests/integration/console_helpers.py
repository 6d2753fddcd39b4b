"""Helpers of the console tests: the whole pipeline running, with a flaky push
gateway and a flaky sender webhook, so timelines have retries to show."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.conftest import eventually
from tests.factories import create_profile, create_service, message_body
from tests.integration.helpers import ADMIN
from tests.integration.notify_helpers import CITIZEN, Receiver, running, serving, with_settings
from worker.bootstrap import Runtime, attempt_journal, webhook_sender
from worker.console.sampler import FlowSampler
from worker.core.errors import RetryableError
from worker.roles import deliver, notify
from worker.roles.callbacks import CallbacksRole
from worker.services.notify_ports import Channels, Push

CALLBACK_SECRET = "s3cret-for-console-tests"


@dataclass
class FlakyPush:
    """Fails the first push of each message once (a retry tier), then accepts."""

    seen: set[str] = field(default_factory=set)
    sent: list[Push] = field(default_factory=list)

    async def send(self, push: Push) -> None:
        if push.message_id not in self.seen:
            self.seen.add(push.message_id)
            raise RetryableError("push gateway answered 503")
        self.sent.append(push)


@dataclass
class FirstEventRefused(Receiver):
    """Answers 503 to the first two POSTs of each message's `message` event (both
    in-process tries of its first attempt), 200 to everything else."""

    refused: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append((dict(request.headers), body))
        event = json.loads(body)
        if event.get("kind") == "message":
            seen = self.refused.get(event["message_id"], 0)
            if seen < 2:
                self.refused[event["message_id"]] = seen + 1
                return web.Response(status=503)
        return web.json_response({"ok": True})


@dataclass
class Pipeline:
    runtime: Runtime
    service_id: str
    api_key: str
    hook: Receiver
    push: FlakyPush

    async def submit(self, client: TestClient[Any, Any], fiscal_code: str = CITIZEN) -> str:
        headers = {"Ocp-Apim-Subscription-Key": self.api_key}
        resp = await client.post(
            "/api/v1/messages", json=message_body(fiscal_code), headers=headers
        )
        assert resp.status == 201, await resp.text()
        message_id: str = (await resp.json())["id"]
        return message_id


def fast(runtime: Runtime) -> Runtime:
    """Retry tiers due in a fraction of a second, the flow sampled every 0.2 s."""
    runtime = with_settings(runtime, "notify", retry_delays=(0.2, 0.3), call_attempts=1)
    runtime = with_settings(runtime, "callbacks", retry_delays=(0.2, 0.3), timeout_seconds=0.5)
    return with_settings(runtime, "console", sample_seconds=0.2, refresh_seconds=0.5)


@contextlib.asynccontextmanager
async def pipeline(runtime: Runtime) -> AsyncIterator[Pipeline]:
    """deliver, notify and callbacks running, the sampler writing the flow; the webhook
    refuses each message's first `message` event once (503), then accepts."""
    runtime = fast(runtime)
    async with serving(FirstEventRefused()) as hook:
        service_id, api_key = await create_service(
            runtime, callback_url=hook.url, callback_secret=CALLBACK_SECRET
        )
        await create_profile(runtime, CITIZEN)
        push = FlakyPush()
        async with (
            webhook_sender(runtime.settings.callbacks) as sender,
            attempt_journal(runtime) as journal,
        ):
            callbacks = CallbacksRole(runtime, sender, journal=journal)
            runners = (
                deliver.build(runtime),
                notify.build(runtime, Channels(push, None), journal=journal),
                *callbacks.runners,
            )
            stop = asyncio.Event()
            sampler = asyncio.create_task(FlowSampler(runtime.pool, runtime.settings).run(stop))
            try:
                async with running(*runners):
                    yield Pipeline(runtime, service_id, api_key, hook, push)
            finally:
                stop.set()
                await sampler
                await callbacks.stop()


async def admin_get(client: TestClient[Any, Any], path: str) -> tuple[int, Any]:
    resp = await client.get(path, headers=ADMIN)
    return resp.status, await resp.json()


async def settled_timeline(client: TestClient[Any, Any], message_id: str) -> dict[str, Any]:
    """The timeline once its push was sent and its `message` event delivered."""

    def complete(found: tuple[int, Any]) -> bool:
        status, body = found
        outcomes = {(s.get("channel"), s.get("outcome")) for s in body.get("steps", [])}
        return status == 200 and {("PUSH", "SENT"), ("message PROCESSED", "delivered")} <= outcomes

    _, body = await eventually(
        lambda: admin_get(client, f"/api/v1/status/messages/{message_id}"), complete, timeout=20
    )
    timeline: dict[str, Any] = body
    return timeline
