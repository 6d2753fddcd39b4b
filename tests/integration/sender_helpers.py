"""Helpers of the sender API tests: headers, drains, extra app instances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import ADMIN_TOKEN
from worker.bootstrap import Runtime
from worker.ingress.app import create_app
from worker.roles import deliver

CITIZEN = "RSSMRA80A01H501U"
OTHER = "VRDGPP80A01H501X"
SANDBOX = "AAAAAA00A00A000A"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def key(api_key: str) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": api_key}


async def drain_deliver(runtime: Runtime) -> int:
    runner = deliver.build(runtime)
    try:
        return await runner.run_until_idle()
    finally:
        await runner.stop()


@asynccontextmanager
async def another_ingress(runtime: Runtime, **http: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """A second ingress app on the same broker and database (another process, in effect)."""
    settings = runtime.settings
    if http:
        settings = replace(settings, http=replace(settings.http, **http))
    async with TestClient(TestServer(create_app(replace(runtime, settings=settings)))) as client:
        yield client
