"""Remote content costs outsiders a bounded share (docs/integrators/remote-content.md).

- Every call to a sender has a total deadline (a sender that drips a byte at a time
  never trips a per-read timeout), and a download has its own.
- Connections to one sender's host are capped; calls in flight are capped per sender
  and per citizen (over the cap: 429 with `Retry-After`, at once), so one slow
  sender or one citizen opening large attachments cannot hold the shared pool.
- A citizen who drops the connection mid-PDF ends a request, not a 500.
- A sender's JSON nested too deep is the sender's failure (502), not Postino's (500).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import eventually
from tests.factories import CARD, create_profile, message_body
from tests.integration.helpers import ADMIN, drain, session
from tests.integration.sender_helpers import key
from worker import metrics
from worker.bootstrap import Runtime
from worker.ingress import app as app_module
from worker.ingress.app import create_app

Client = TestClient[Any, Any]
CITIZENS = [f"BNCMRA{n:02d}A01H501U" for n in range(1, 7)]

PDF_PIECE = b"%PDF-1.7\n" + b"0" * 65_536
LISTING = {
    "details": {"subject": "Referto disponibile", "markdown": "Il referto " * 10},
    "attachments": [{"id": "1", "name": "referto.pdf", "url": "attachments/referto.pdf"}],
}


class Sender:
    """A sender's systems that misbehave on request: by the third-party id."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.active = 0
        self.most_active = 0
        self._changed = asyncio.Condition()

    async def holding(self, count: int) -> None:
        """Until `count` calls are held at once."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.active >= count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/io/messages/{id}", self.message)
        app.router.add_get("/io/messages/{id}/attachments/{name}", self.attachment)
        return app

    async def message(self, request: web.Request) -> web.StreamResponse:
        pid = request.match_info["id"]
        if pid == "drip":  # one byte at a time, never done: no read ever times out
            return await self._drip(request, "application/json", b"{")
        if pid == "deep":  # in a field Postino drops: decoded only to be skipped
            deep = b'{"x": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"
            return web.Response(body=deep, content_type="application/json")
        if pid == "hold":
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            async with self._changed:
                self._changed.notify_all()
            try:
                await self.release.wait()
            finally:
                self.active -= 1
        return web.json_response(LISTING)

    async def _drip(
        self, request: web.Request, content_type: str, first: bytes
    ) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = content_type
        await response.prepare(request)
        await response.write(first)
        while not self.release.is_set():
            await asyncio.sleep(0.05)
            await response.write(b" ")
        return response

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["id"] == "dripfile":
            return await self._drip(request, "application/pdf", PDF_PIECE)
        response = web.StreamResponse()
        response.content_type = "application/pdf"
        await response.prepare(request)
        for _ in range(200):  # ~13 MB in pieces, unless the citizen leaves first
            await response.write(PDF_PIECE)
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response


@pytest.fixture
async def sender() -> AsyncIterator[tuple[Sender, str]]:
    fake = Sender()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url("/io"))
    fake.release.set()
    await server.close()


async def _client(runtime: Runtime, *, cancelling: bool = True, **remote: Any) -> Client:
    settings = runtime.settings
    options = {
        "timeout_seconds": 0.5,
        "attachment_max_bytes": 100_000_000,
        "deadline_seconds": 1.0,
        "attachment_deadline_seconds": 1.5,
        **remote,
    }
    changed = replace(settings, remote_content=replace(settings.remote_content, **options))
    server = TestServer if cancelling else _Server
    client = TestClient(server(create_app(replace(runtime, settings=changed))))
    await client.start_server()
    return client


class _Server(TestServer):
    """aiohttp's test server, but leaving handlers running when a client leaves, as
    `postino ingress` does (aiohttp's default); its test server cancels them."""

    async def _make_runner(self, handler_cancellation: bool = False, **kwargs: Any) -> Any:
        return await super()._make_runner(handler_cancellation=False, **kwargs)


async def _two_messages(
    runtime: Runtime, client: Client, base_url: str, first: str, second: str
) -> tuple[str, str]:
    """Two messages of the first citizen, with third-party ids `first` and `second`."""
    [one, *_] = await _messages(runtime, client, base_url, first)
    api_key = await _service(client, base_url)
    body = message_body(
        CITIZENS[0],
        third_party_data={"id": second, "has_remote_content": True, "has_attachments": True},
    )
    body["feature_level_type"] = "ADVANCED"
    sent = await client.post("/api/v1/messages", json=body, headers=key(api_key))
    assert sent.status == 201, await sent.text()
    await drain(runtime)
    return one, str((await sent.json())["id"])


async def _service(client: Client, base_url: str) -> str:
    remote = {"base_url": base_url, "header_key_name": "X-Api-Key", "key": "k" * 24}
    resp = await client.post(
        "/api/v1/manage/services",
        json={
            "name": "Referti",
            "organization_name": "ASL",
            "organization_fiscal_code": "12345678901",
            **CARD,
            "premium": True,
            "remote_content": remote,
            "authorized_recipients": CITIZENS,
        },
        headers=ADMIN,
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["api_key"])


async def _messages(runtime: Runtime, client: Client, base_url: str, pid: str) -> list[str]:
    """One premium third-party message for each citizen, all with third-party id `pid`."""
    api_key = await _service(client, base_url)
    ids = []
    for fiscal_code in CITIZENS:
        await create_profile(runtime, fiscal_code)
        body = message_body(
            fiscal_code,
            third_party_data={"id": pid, "has_remote_content": True, "has_attachments": True},
        )
        body["feature_level_type"] = "ADVANCED"
        sent = await client.post("/api/v1/messages", json=body, headers=key(api_key))
        assert sent.status == 201, await sent.text()
        ids.append((await sent.json())["id"])
    await drain(runtime)
    return ids


def _details(message_id: str) -> str:
    return f"/api/v1/citizen/messages/{message_id}/third-party"


def _pdf(message_id: str) -> str:
    return f"{_details(message_id)}/attachments/attachments/referto.pdf"


async def test_a_sender_that_drips_is_cut_at_the_total_deadline(
    runtime: Runtime, sender: tuple[Sender, str]
) -> None:
    client = await _client(runtime)
    try:
        drip, dripfile = await _two_messages(runtime, client, sender[1], "drip", "dripfile")
        headers = await session(client, CITIZENS[0])
        async with asyncio.timeout(10):
            resp = await client.get(_details(drip), headers=headers)
            assert resp.status == 502, await resp.text()
            pdf = await client.get(_pdf(dripfile), headers=headers)
            assert pdf.status == 200  # the first bytes came in time; the rest never does
            with pytest.raises(aiohttp.ClientPayloadError):
                await pdf.read()
    finally:
        await client.close()


async def test_connections_to_one_sender_host_are_capped(
    runtime: Runtime, sender: tuple[Sender, str]
) -> None:
    fake, base_url = sender
    client = await _client(runtime, connections_per_host=2, deadline_seconds=10.0)
    try:
        ids = await _messages(runtime, client, base_url, "hold")
        sessions = [await session(client, c) for c in CITIZENS]
        calls = [
            asyncio.create_task(client.get(_details(m), headers=h))
            for m, h in zip(ids, sessions, strict=True)
        ]
        await fake.holding(2)
        await asyncio.sleep(0.2)  # the others are waiting for a connection, not connected
        fake.release.set()
        statuses = [r.status for r in await asyncio.gather(*calls)]
    finally:
        await client.close()
    assert statuses == [200] * len(CITIZENS)
    assert fake.most_active == 2


async def test_calls_in_flight_are_capped_per_sender(
    runtime: Runtime, sender: tuple[Sender, str]
) -> None:
    fake, base_url = sender
    client = await _client(runtime, per_sender=2, deadline_seconds=10.0)
    try:
        ids = await _messages(runtime, client, base_url, "hold")
        sessions = [await session(client, c) for c in CITIZENS[:3]]
        held = [
            asyncio.create_task(client.get(_details(m), headers=h))
            for m, h in zip(ids[:2], sessions[:2], strict=True)
        ]
        await fake.holding(2)
        third = await client.get(_details(ids[2]), headers=sessions[2])
        assert third.status == 429
        assert third.headers["Retry-After"]
        fake.release.set()
        assert [r.status for r in await asyncio.gather(*held)] == [200, 200]
    finally:
        await client.close()


async def test_calls_in_flight_are_capped_per_citizen(
    runtime: Runtime, sender: tuple[Sender, str]
) -> None:
    fake, base_url = sender
    client = await _client(runtime, per_citizen=1, deadline_seconds=10.0)
    try:
        [mine, theirs, *_] = await _messages(runtime, client, base_url, "hold")
        headers = await session(client, CITIZENS[0])
        first = asyncio.create_task(client.get(_details(mine), headers=headers))
        await fake.holding(1)
        second = await client.get(_details(mine), headers=headers)
        assert second.status == 429
        other = await session(client, CITIZENS[1])
        another = asyncio.create_task(client.get(_details(theirs), headers=other))
        await fake.holding(2)  # another citizen's call goes through to the sender
        fake.release.set()
        assert [(await first).status, (await another).status] == [200, 200]
    finally:
        await client.close()


async def _attachment_statuses() -> dict[int, float]:
    """Requests counted per status on the attachment route so far (in this process)."""
    route = "/api/v1/citizen/messages/{id}/third-party/attachments/{attachment_url}"
    return {
        int(sample.labels["status"]): sample.value
        for family in metrics.HTTP_REQUESTS.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("route") == route
    }


class _Errors:
    def __init__(self) -> None:
        self.events: list[str] = []

    def error(self, event: str, **_: Any) -> None:
        self.events.append(event)

    def warning(self, event: str, **_: Any) -> None:
        return None

    def info(self, event: str, **_: Any) -> None:
        return None


def _client_gone() -> float:
    return sum(
        sample.value
        for family in metrics.REMOTE_CONTENT.collect()
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("outcome") == "client_gone"
    )


@pytest.mark.parametrize("cancelling", [False, True], ids=["handler-runs-on", "handler-cancelled"])
async def test_a_citizen_who_leaves_mid_pdf_is_not_a_server_error(
    runtime: Runtime,
    sender: tuple[Sender, str],
    monkeypatch: pytest.MonkeyPatch,
    cancelling: bool,
) -> None:
    """As `postino ingress` runs, the next write finds the citizen gone and the stream
    ends as `client_gone` (a 200 already sent); under a server that cancels a handler
    whose client left, the request is still counted, as 499. Never a 500."""
    errors = _Errors()
    monkeypatch.setattr(app_module, "log", errors)
    gone = _client_gone()
    before = await _attachment_statuses()
    client = await _client(runtime, cancelling=cancelling, attachment_deadline_seconds=30.0)
    try:
        [message_id, *_] = await _messages(runtime, client, sender[1], "plain")
        headers = await session(client, CITIZENS[0])
        url = client.make_url(_pdf(message_id))
        async with aiohttp.ClientSession() as raw:
            resp = await raw.get(url, headers=headers)
            assert resp.status == 200
            await resp.content.readexactly(100_000)
            resp.connection.transport.abort()  # type: ignore[union-attr]
            resp.close()
        # the ingress notices on its next write (or its handler is cancelled) and ends
        # the request
        statuses = await eventually(_attachment_statuses, lambda found: found != before)
    finally:
        await client.close()
    assert "request_failed" not in errors.events
    new = {status: n - before.get(status, 0) for status, n in statuses.items()}
    if cancelling:
        assert {s: n for s, n in new.items() if n} == {499: 1}
    else:
        assert {s: n for s, n in new.items() if n} == {200: 1}
        assert _client_gone() == gone + 1


async def test_sender_json_nested_too_deep_is_a_bad_gateway(
    runtime: Runtime, sender: tuple[Sender, str]
) -> None:
    client = await _client(runtime)
    try:
        [message_id, *_] = await _messages(runtime, client, sender[1], "deep")
        resp = await client.get(_details(message_id), headers=await session(client, CITIZENS[0]))
    finally:
        await client.close()
    assert resp.status == 502, await resp.text()
