"""Remote content and attachments (docs/integrators/remote-content.md) against a local sender: the
three citizen routes, the headers the sender gets, PDFs streamed byte-identical, and every
way the sender can fail."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientPayloadError, web
from aiohttp.test_utils import TestClient, TestServer

from devkit.dev import DEMO_API_KEY, DEMO_REMOTE_HEADER, DEMO_REMOTE_KEY, seed_demo
from devkit.sinks import DemoSender, DevSinks, demo_pdf
from tests.factories import CARD, create_profile, message_body
from tests.integration.helpers import ADMIN, drain, session
from tests.integration.sender_helpers import CITIZEN, OTHER, key
from worker.bootstrap import Runtime
from worker.ingress.app import create_app, reload_services

Client = TestClient[Any, Any]
SENDER_KEY = "sender-side-secret-0123456789"
PDF = b"%PDF-1.7\n" + os.urandom(150_000) + b"\n%%EOF\n"
MAX_BYTES = 200_000
DETAILS = b'{"details": {"subject": "Referto in parti", "markdown": "' + b"x" * 400 + b'"}}'


class Sender:
    """The sender's systems: what Postino asks and what it answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None]] = []
        self.hang = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/io/messages/{id}", self.message)
        app.router.add_get("/io/messages/{id}/precondition", self.precondition)
        app.router.add_get("/io/messages/{id}/attachments/{name}", self.attachment)
        return app

    def _seen(self, request: web.Request) -> str:
        headers = request.headers
        self.calls.append((request.path, headers.get("fiscal_code"), headers.get("X-Api-Key")))
        return request.match_info["id"]

    async def message(self, request: web.Request) -> web.Response:
        pid = self._seen(request)
        if pid == "slow":
            await self.hang.wait()
        if pid == "gone":
            return web.json_response({"detail": "sender internals"}, status=404)
        if pid == "broken":
            return web.json_response({"detail": "stack trace of the sender"}, status=500)
        if pid == "pieces":  # a JSON answer arriving in many small writes
            return await self._in_pieces(request, DETAILS)
        return web.json_response(
            {
                "details": {"subject": "Referto disponibile", "markdown": "Il referto " * 10},
                "attachments": [
                    {"id": "1", "name": "referto.pdf", "url": "attachments/referto.pdf"},
                    {"id": "2", "name": "grande.pdf", "url": "attachments/grande.pdf"},
                    {"id": "3", "name": "foto.png", "url": "attachments/foto.png"},
                ],
                "internal_notes": "never shown to the citizen",
            }
        )

    @staticmethod
    async def _in_pieces(request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        for start in range(0, len(body), 7):
            await response.write(body[start : start + 7])
        await response.write_eof()
        return response

    async def precondition(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response({"title": "Attenzione", "markdown": "Contenuto sensibile."})

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        name = request.match_info["name"]
        if name == "foto.png":
            return web.Response(body=b"\x89PNG....", content_type="image/png")
        body = PDF if name == "referto.pdf" else b"%PDF-" + bytes(MAX_BYTES)
        response = web.StreamResponse()
        response.content_type = "application/pdf"
        if name == "referto.pdf":
            response.content_length = len(body)
        await response.prepare(request)
        for start in range(0, len(body), 16_384):  # in pieces, no declared length for grande
            await response.write(body[start : start + 16_384])
        await response.write_eof()
        return response


@pytest.fixture
async def sender() -> AsyncIterator[tuple[Sender, str]]:
    fake = Sender()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url("/io"))
    fake.hang.set()
    await server.close()


@pytest.fixture
async def app_client(runtime: Runtime) -> AsyncIterator[Client]:
    settings = runtime.settings
    remote = replace(settings.remote_content, timeout_seconds=0.5, attachment_max_bytes=MAX_BYTES)
    changed = replace(runtime, settings=replace(settings, remote_content=remote))
    async with TestClient(TestServer(create_app(changed))) as client:
        yield client


async def _service(client: Client, base_url: str) -> str:
    remote = {"base_url": base_url, "header_key_name": "X-Api-Key", "key": SENDER_KEY}
    body = {
        "name": "Referti",
        "organization_name": "ASL",
        "organization_fiscal_code": "12345678901",
    }
    resp = await client.post(
        "/api/v1/manage/services",
        json={**body, **CARD, "premium": True, "remote_content": remote}
        | {"authorized_recipients": [CITIZEN]},
        headers=ADMIN,
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["remote_content"] == {"base_url": base_url, "header_key_name": "X-Api-Key"}
    assert SENDER_KEY not in await resp.text()
    one = f"/api/v1/manage/services/{created['id']}"
    assert SENDER_KEY not in await (await client.get(one, headers=ADMIN)).text()
    return str(created["api_key"])


async def _send(client: Client, api_key: str, third_party: dict[str, Any], advanced: bool) -> str:
    body = message_body(CITIZEN, third_party_data=third_party)
    if advanced:
        body["feature_level_type"] = "ADVANCED"
    resp = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def test_the_three_routes_fetch_from_the_sender_for_the_recipient_only(
    runtime: Runtime, app_client: Client, sender: tuple[Sender, str]
) -> None:
    fake, base_url = sender
    client = app_client
    await create_profile(runtime, CITIZEN)
    await create_profile(runtime, OTHER)
    api_key = await _service(client, base_url)
    full = {"id": "pratica-1", "has_remote_content": True, "has_attachments": True}
    premium = await _send(client, api_key, {**full, "has_precondition": "ALWAYS"}, True)
    standard = await _send(client, api_key, {"id": "pratica-2", "has_remote_content": True}, False)
    plain = await client.post("/api/v1/messages", json=message_body(CITIZEN), headers=key(api_key))
    plain_id = (await plain.json())["id"]
    await drain(runtime)
    mine = await session(client, CITIZEN)
    base = "/api/v1/citizen/messages"

    resp = await client.get(f"{base}/{premium}/third-party", headers=mine)
    assert resp.status == 200, await resp.text()
    view = await resp.json()
    assert view["details"]["subject"] == "Referto disponibile"
    assert view["attachments"][0]["url"] == "attachments/referto.pdf"
    assert "internal_notes" not in await resp.text()
    assert fake.calls[-1] == ("/io/messages/pratica-1", CITIZEN, SENDER_KEY)

    resp = await client.get(f"{base}/{premium}/third-party/precondition", headers=mine)
    assert await resp.json() == {"title": "Attenzione", "markdown": "Contenuto sensibile."}

    resp = await client.get(
        f"{base}/{premium}/third-party/attachments/attachments/referto.pdf", headers=mine
    )
    assert (resp.status, resp.content_type) == (200, "application/pdf")
    assert await resp.read() == PDF
    assert fake.calls[-1] == ("/io/messages/pratica-1/attachments/referto.pdf", CITIZEN, SENDER_KEY)

    # STANDARD messages never get attachments (details yes), nor a precondition not asked for
    resp = await client.get(f"{base}/{standard}/third-party", headers=mine)
    assert "attachments" not in await resp.json()
    resp = await client.get(
        f"{base}/{standard}/third-party/attachments/attachments/referto.pdf", headers=mine
    )
    assert resp.status == 404
    assert (
        await client.get(f"{base}/{standard}/third-party/precondition", headers=mine)
    ).status == 404
    # a message without third-party data, and another citizen's session: 404
    assert (await client.get(f"{base}/{plain_id}/third-party", headers=mine)).status == 404
    theirs = await session(client, OTHER)
    calls = len(fake.calls)
    for path in ("", "/precondition", "/attachments/attachments/referto.pdf"):
        assert (
            await client.get(f"{base}/{premium}/third-party{path}", headers=theirs)
        ).status == 404
    assert len(fake.calls) == calls  # the sender was never asked
    assert (await client.get(f"{base}/{premium}/third-party")).status == 401


async def test_attachments_must_be_listed_pdf_and_within_the_size_cap(
    runtime: Runtime, app_client: Client, sender: tuple[Sender, str]
) -> None:
    client = app_client
    _, base_url = sender
    await create_profile(runtime, CITIZEN)
    api_key = await _service(client, base_url)
    message = await _send(client, api_key, {"id": "pratica-1", "has_attachments": True}, True)
    await drain(runtime)
    mine = await session(client, CITIZEN)
    path = f"/api/v1/citizen/messages/{message}/third-party/attachments"

    for unlisted in ("attachments/altro.pdf", "attachments/../precondition"):
        assert (await client.get(f"{path}/{unlisted}", headers=mine)).status == 404
    assert (await client.get(f"{path}/attachments/foto.png", headers=mine)).status == 502
    # no declared length, more than the cap: the stream is cut, never a truncated 200
    resp = await client.get(f"{path}/attachments/grande.pdf", headers=mine)
    with pytest.raises(ClientPayloadError):
        await resp.read()


async def test_sender_failures_become_404_or_502_without_its_body(
    runtime: Runtime, app_client: Client, sender: tuple[Sender, str]
) -> None:
    client = app_client
    _, base_url = sender
    await create_profile(runtime, CITIZEN)
    api_key = await _service(client, base_url)
    ids = {
        name: await _send(client, api_key, {"id": name, "has_remote_content": True}, False)
        for name in ("slow", "gone", "broken", "pieces")
    }
    await drain(runtime)
    mine = await session(client, CITIZEN)
    expected = {"slow": 502, "gone": 404, "broken": 502, "pieces": 200}
    for name, message_id in ids.items():
        resp = await client.get(f"/api/v1/citizen/messages/{message_id}/third-party", headers=mine)
        assert resp.status == expected[name], name
        text = await resp.text()
        assert "sender internals" not in text and "stack trace" not in text


async def test_the_dev_sink_serves_the_demo_services_remote_content(
    runtime: Runtime, client: Client, tmp_path: Path
) -> None:
    sinks = DevSinks(tmp_path, demo_sender=DemoSender(DEMO_REMOTE_HEADER, DEMO_REMOTE_KEY))
    await sinks.start()
    try:
        await seed_demo(runtime, sinks.remote_url)
        await reload_services(client.app)
        third_party = {"id": "TARI-2026-1", "has_remote_content": True, "has_attachments": True}
        body = message_body(CITIZEN, third_party_data=third_party, require_secure_channels=True)
        body["feature_level_type"] = "ADVANCED"
        sent = await client.post("/api/v1/messages", json=body, headers=key(DEMO_API_KEY))
        assert sent.status == 201, await sent.text()
        await drain(runtime)
        base = f"/api/v1/citizen/messages/{(await sent.json())['id']}/third-party"
        mine = await session(client, CITIZEN)
        view = await (await client.get(base, headers=mine)).json()
        assert "TARI-2026-1" in view["details"]["subject"]
        url = view["attachments"][0]["url"]
        pdf = await client.get(f"{base}/attachments/{url}", headers=mine)
        assert (pdf.status, await pdf.read()) == (200, demo_pdf())
    finally:
        await sinks.stop()
