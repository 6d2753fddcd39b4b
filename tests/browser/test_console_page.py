"""The operator console in a real headless Chromium (Debian's package, driven over the
DevTools protocol): live charts, "where is my message?", not found, nothing external.

With `POSTINO_SCREENSHOTS=<dir>` (`make screenshots`) the same test also sends a few
minutes' worth of varied traffic and saves the docs' screenshots there.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas.topics import Topic
from tests.browser.chromium import Page, chromium
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_profile
from tests.integration.console_helpers import Pipeline, pipeline, settled_timeline
from worker.adapters.kafka import OutRecord
from worker.bootstrap import Runtime
from worker.ingress.app import create_app

SHOTS = os.environ.get("POSTINO_SCREENSHOTS")
LOCAL_SCHEMES = ("data", "about", "blob")


@pytest.fixture(scope="module")
async def page() -> AsyncIterator[Page]:
    async with chromium() as browser_page:
        yield browser_page


def _points(chart: str, series: str) -> str:
    return (
        f'document.querySelectorAll(\'[data-chart="{chart}"] .pt[data-series="{series}"]\').length'
    )


async def _traffic(flow: Pipeline, http: TestClient[Any, Any]) -> str:
    """Messages through the pipeline; returns the id of one whose story is complete."""
    first = await flow.submit(http)
    if SHOTS:  # a livelier picture for the docs
        await create_profile(flow.runtime, "VRDGPP80A01H501X", inbox_enabled=False)
        dlq_source = flow.runtime.settings.kafka.topics.name(Topic.SUBMITTED)
        for second in range(40):
            for _ in range(1 + second % 5):
                await flow.submit(http)
            if second % 7 == 0:
                await flow.submit(http, "VRDGPP80A01H501X")  # rejected: inbox disabled
            if second % 13 == 0:
                await flow.runtime.publisher.publish(OutRecord(dlq_source, b"not json", b"k"))
            await asyncio.sleep(0.25)
    else:
        await flow.submit(http)
    await settled_timeline(http, first)
    return first


async def test_the_console_shows_live_flow_and_a_message_timeline(
    page: Page, runtime: Runtime
) -> None:
    async with pipeline(runtime) as flow, TestClient(TestServer(create_app(flow.runtime))) as http:
        message_id = await _traffic(flow, http)
        await page.viewport(1280, 800)
        page.requested.clear()
        await page.goto(str(http.make_url("/status")) + f"#token={ADMIN_TOKEN}")

        # Charts fill in from the cached flow, without a reload.
        await page.wait_for(f"{_points('messages', 'accepted')} > 0")
        await page.wait_for(f"{_points('messages', 'message:PROCESSED')} > 0")
        assert await page.evaluate("location.hash") == ""  # the token left the address bar
        polls = await page.evaluate("Number(document.body.dataset.polls)")
        await page.wait_for(f"Number(document.body.dataset.polls) > {polls}")
        if SHOTS:
            await page.wait_for("document.querySelectorAll('article.dlq').length > 0")
            await page.evaluate(
                "document.querySelector('input[name=window][value=\"60\"]').click()"
            )
            await page.screenshot(Path(SHOTS) / "console.png")

        # Where is my message: typed and submitted from the keyboard.
        await page.type_and_enter("#message-id", message_id)
        kinds = await page.wait_for(
            "Array.from(document.querySelectorAll('.timeline li')).map(li => li.dataset.kind)"
        )
        assert kinds[:2] == ["accepted", "stored"]
        assert kinds.index("notification") < len(kinds) and "callback" in kinds
        times = await page.evaluate(
            "Array.from(document.querySelectorAll('.timeline li time'))"
            ".map(t => t.getAttribute('datetime'))"
        )
        assert times == sorted(times)
        text = await page.evaluate("document.querySelector('#search-result').innerText")
        assert "THROTTLED" in text and "503" in text and "notifications.retry.1" in text
        if SHOTS:
            await page.screenshot(Path(SHOTS) / "timeline.png", "#lookup")

        # An unknown id says so.
        await page.type_and_enter("#message-id", "01J0000000000000000000000Z")
        await page.wait_for(
            "(document.querySelector('.not-found') || {}).innerText?.startsWith('Not found')"
        )

        # A phone's width: nothing wider than the screen.
        await page.viewport(390, 844, mobile=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    assert page.console_errors == []
    outside = [
        url
        for url in page.requested
        if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).hostname != "127.0.0.1"
    ]
    assert page.requested and outside == []


async def test_without_a_token_the_page_asks_for_one_and_refuses_a_wrong_one(
    page: Page, client: TestClient[Any, Any]
) -> None:
    await page.viewport(1280, 800)
    await page.goto(str(client.make_url("/status")))  # a new origin: nothing stored yet
    await page.wait_for("!document.querySelector('#login').hidden")
    assert await page.evaluate("document.querySelector('#console').hidden") is True

    await page.type_and_enter("#token", "not-the-token")
    error = await page.wait_for("document.querySelector('#login-error').innerText")
    assert "refused" in error
    assert json.loads(await page.evaluate("JSON.stringify(sessionStorage)")) == {}
