"""Helpers of the sender API tests: headers, extra app instances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from schemas.patterns import SANDBOX_FISCAL_CODE
from worker.bootstrap import Runtime
from worker.ingress.app import create_app

CITIZEN = "RSSMRA80A01H501U"
OTHER = "VRDGPP80A01H501X"
SANDBOX = SANDBOX_FISCAL_CODE


def key(api_key: str) -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": api_key}


@asynccontextmanager
async def another_ingress(runtime: Runtime, **http: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """A second ingress app on the same broker and database (another process, in effect)."""
    settings = runtime.settings
    if http:
        settings = replace(settings, http=replace(settings.http, **http))
    async with TestClient(TestServer(create_app(replace(runtime, settings=settings)))) as client:
        yield client
