"""The outside world of the full-pipeline bench, as its own process: a push gateway, an
SMTP server and the sender's callback receiver, all on 127.0.0.1.

Each keeps only what the bench needs: when (`time.time()`, this machine's clock, the
one `messages.created_at` is set on) each push and each callback arrived, and for
which message; e-mails are counted. `GET /arrivals` returns them as JSON.

Run: `python -m worker.bench.sinks <http port> <smtp port>`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time

import msgspec
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from worker.lifecycle import install_signal_handlers

PUSH_PATH, CALLBACK_PATH = "/push", "/callback"
ARRIVALS_PATH, COUNTS_PATH = "/arrivals", "/counts"


class _Push(msgspec.Struct):
    message_id: str


class _Event(msgspec.Struct):
    message_id: str
    kind: str
    status: str = ""
    channel: str = ""


class Arrivals:
    def __init__(self) -> None:
        self.pushes: list[tuple[str, float]] = []
        self.callbacks: list[tuple[str, str, float]] = []
        self.callback_counts: collections.Counter[str] = collections.Counter()
        self.mails = 0
        self._push = msgspec.json.Decoder(_Push)
        self._event = msgspec.json.Decoder(_Event)

    async def push(self, request: web.Request) -> web.Response:
        push = self._push.decode(await request.read())
        self.pushes.append((push.message_id, time.time()))
        return web.Response(status=200)

    async def callback(self, request: web.Request) -> web.Response:
        event = self._event.decode(await request.read())
        what = ":".join(p for p in (event.kind, event.channel, event.status) if p)
        self.callbacks.append((event.message_id, what, time.time()))
        self.callback_counts[what] += 1
        return web.Response(status=200)

    async def counts(self, _: web.Request) -> web.Response:
        body = {"pushes": len(self.pushes), "callbacks": self.callback_counts, "mails": self.mails}
        return web.Response(body=msgspec.json.encode(body), content_type="application/json")

    async def arrivals(self, _: web.Request) -> web.Response:
        body = {"pushes": self.pushes, "callbacks": self.callbacks, "mails": self.mails}
        return web.Response(body=msgspec.json.encode(body), content_type="application/json")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails += 1
        return "250 Message accepted for delivery"


async def serve(http_port: int, smtp_port: int) -> None:
    arrivals = Arrivals()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(
        lambda: SMTP(arrivals, hostname="postino-bench", loop=loop), "127.0.0.1", smtp_port
    )
    app = web.Application()
    app.router.add_post(PUSH_PATH, arrivals.push)
    app.router.add_post(CALLBACK_PATH, arrivals.callback)
    app.router.add_get(ARRIVALS_PATH, arrivals.arrivals)
    app.router.add_get(COUNTS_PATH, arrivals.counts)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    install_signal_handlers(stop)
    try:
        await web.TCPSite(runner, "127.0.0.1", http_port, backlog=1024).start()
        await stop.wait()
    finally:
        await runner.cleanup()
        smtp.close()
        await smtp.wait_closed()


def main(argv: list[str]) -> int:
    asyncio.run(serve(int(argv[0]), int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
