"""The chaos sinks as a process of their own: push gateway, callback receiver, SMTP.

`python -m tests.chaos.sinks_main <journal> <push port> <callback port> <smtp port>`
appends one JSON line per arrival to `<journal>`: `{"k": "push", "id": <message id>}`,
`{"k": "cb", "id": <sha256 of the body>, "m": <message id>}` or `{"k": "mail",
"id": <chaos token>}`, each with its time `"t"`. A process of its own, so the sinks
answer at once even while the suite's process is busy injecting faults.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import signal
import sys
import time
from typing import IO, Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

TOKEN = re.compile(rb"chaos-\d+")


class Journal:
    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, **entry: Any) -> None:
        self._out.write(json.dumps({**entry, "t": time.time()}) + "\n")
        self._out.flush()


class Handlers:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def push(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        if payload.get("kind") == "MESSAGE":
            self.journal.write(k="push", id=payload["message_id"])
        return web.json_response({"accepted": True})

    async def callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        message_id = json.loads(body).get("message_id", "")
        self.journal.write(k="cb", id=hashlib.sha256(body).hexdigest(), m=message_id)
        return web.json_response({"ok": True})

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        match = TOKEN.search(data)
        if match is not None:
            self.journal.write(k="mail", id=match.group().decode())
        return "250 OK"


async def serve(out: IO[str], push_port: int, callback_port: int, smtp_port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    handlers = Handlers(Journal(out))
    app = web.Application()
    app.router.add_post("/push", handlers.push)
    app.router.add_post("/hook", handlers.callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", push_port).start()
    await web.TCPSite(runner, "127.0.0.1", callback_port).start()
    smtp = await loop.create_server(
        lambda: SMTP(handlers, hostname="chaos"), "127.0.0.1", smtp_port
    )
    await stop.wait()
    smtp.close()
    await runner.cleanup()


if __name__ == "__main__":
    journal_path, push, callback, mail = sys.argv[1:5]
    with open(journal_path, "a", encoding="utf-8") as journal:
        asyncio.run(serve(journal, int(push), int(callback), int(mail)))
