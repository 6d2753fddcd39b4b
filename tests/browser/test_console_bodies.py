"""The console's public bodies in a real headless Chromium: organisations with their
manage keys (never a key), and a service's history with who did what."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.browser.chromium import Page, chromium
from tests.conftest import ADMIN_TOKEN
from tests.integration.cms_helpers import CMS, body_with_key, call, payload
from tests.integration.helpers import ADMIN


@pytest.fixture(scope="module")
async def page() -> AsyncIterator[Page]:
    async with chromium() as browser_page:
        yield browser_page


async def test_the_console_lists_bodies_and_keys_and_shows_a_service_history(
    page: Page, client: TestClient[Any, Any]
) -> None:
    manage = await body_with_key(client)
    secret = manage["Ocp-Apim-Subscription-Key"]
    created = await call(client, "POST", CMS, manage, 201, json=payload())
    await call(client, "PUT", f"{CMS}/{created['id']}/review", manage, 204, json={})
    await call(client, "POST", f"/api/v1/admin/services/{created['id']}/approve", ADMIN, 200)

    await page.viewport(1280, 800)
    await page.goto(str(client.make_url("/status")) + f"#token={ADMIN_TOKEN}")
    await page.wait_for("!document.getElementById('console').hidden")
    await page.evaluate("document.getElementById('bodies-refresh').click()")
    keys = await page.wait_for(
        "Array.from(document.querySelectorAll('[data-key-id]')).map(li => li.innerText)"
    )
    assert len(keys) == 1 and "live" in keys[0]
    listed = await page.evaluate("document.getElementById('bodies-list').innerText")
    assert "Comune di Prova" in listed and "12345678901" in listed
    assert secret not in await page.evaluate("document.body.innerHTML")

    await page.type_and_enter("#history-service", created["id"])
    actions = await page.wait_for(
        "Array.from(document.querySelectorAll('#history-list tr[data-action]'))"
        ".map(tr => tr.dataset.action)"
    )
    assert actions[:3] == ["create", "submit", "approve"]
    text = await page.evaluate("document.getElementById('history-list').innerText")
    assert "platform admin" in text and "manage key" in text
    assert page.console_errors == []
