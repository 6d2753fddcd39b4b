"""The outside world of the full-pipeline bench, as its own process: a push gateway, an
SMTP server and the sender's callback receiver, all on 127.0.0.1.

They stand in for services that are not on this machine in production, so they are
written to cost as little CPU as possible (raw asyncio protocols, no framework): the
machine's two cores are for the processes under test. Each keeps only what the bench
needs: when (`time.time()`, this machine's clock, the one `messages.created_at` is
set on) each push and each callback arrived, and for which message; e-mails are
counted. `GET /arrivals` and `GET /counts` return them as JSON.

Run: `python -m devkit.bench.sinks <http port> <smtp port>`; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import collections
import sys
import time

import msgspec

from worker.lifecycle import install_signal_handlers

PUSH_PATH, CALLBACK_PATH = "/push", "/callback"
ARRIVALS_PATH, COUNTS_PATH = "/arrivals", "/counts"
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


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

    def answer(self, method: bytes, path: bytes, body: bytes) -> bytes:
        if method == b"POST" and path == PUSH_PATH.encode():
            self.pushes.append((self._push.decode(body).message_id, time.time()))
            return _OK
        if method == b"POST" and path == CALLBACK_PATH.encode():
            event = self._event.decode(body)
            what = ":".join(p for p in (event.kind, event.channel, event.status) if p)
            self.callbacks.append((event.message_id, what, time.time()))
            self.callback_counts[what] += 1
            return _OK
        if path == ARRIVALS_PATH.encode():
            return _json({"pushes": self.pushes, "callbacks": self.callbacks, "mails": self.mails})
        if path == COUNTS_PATH.encode():
            counts = {"pushes": len(self.pushes), "callbacks": self.callback_counts}
            return _json({**counts, "mails": self.mails})
        return _NOT_FOUND


def _json(doc: object) -> bytes:
    body = msgspec.json.encode(doc)
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


class _Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive, requests with `Content-Length` bodies (what our clients send)."""

    def __init__(self, arrivals: Arrivals) -> None:
        self._arrivals = arrivals
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (end := self._buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self._buf[:end])
            need = _content_length(head)
            if len(self._buf) < end + 4 + need:
                return
            body = bytes(self._buf[end + 4 : end + 4 + need])
            del self._buf[: end + 4 + need]
            method, _, rest = head.partition(b" ")
            path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
            if self._transport is not None:
                self._transport.write(self._arrivals.answer(method, path, body))


def _content_length(head: bytes) -> int:
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at + 2)
    return int(head[at + 17 : stop if stop > 0 else len(head)])


class _Smtp(asyncio.Protocol):
    """Just enough SMTP to accept a message: every command is fine, DATA is counted."""

    def __init__(self, arrivals: Arrivals) -> None:
        self._arrivals = arrivals
        self._buf = bytearray()
        self._in_data = False
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self._transport = transport
            transport.write(b"220 postino-bench ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._transport is not None:
            if self._in_data:
                end = self._buf.find(b"\r\n.\r\n")
                if end < 0:
                    return
                del self._buf[: end + 5]
                self._in_data = False
                self._arrivals.mails += 1
                self._transport.write(b"250 OK queued\r\n")
                continue
            end = self._buf.find(b"\r\n")
            if end < 0:
                return
            verb = bytes(self._buf[:4]).upper()
            del self._buf[: end + 2]
            self._transport.write(self._reply(verb))
            if verb == b"QUIT":
                self._transport.close()
                return

    def _reply(self, verb: bytes) -> bytes:
        if verb in (b"EHLO", b"HELO"):
            return b"250-postino-bench\r\n250 8BITMIME\r\n"
        if verb == b"DATA":
            self._in_data = True
            self._buf[0:0] = b"\r\n"  # the data starts a line: "\r\n.\r\n" ends even an empty one
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"QUIT":
            return b"221 Bye\r\n"
        return b"250 OK\r\n"


async def start(
    arrivals: Arrivals, http_port: int, smtp_port: int
) -> tuple[asyncio.Server, asyncio.Server]:
    loop = asyncio.get_running_loop()
    http = await loop.create_server(lambda: _Http(arrivals), "127.0.0.1", http_port, backlog=1024)
    smtp = await loop.create_server(lambda: _Smtp(arrivals), "127.0.0.1", smtp_port)
    return http, smtp


async def serve(http_port: int, smtp_port: int) -> None:
    http, smtp = await start(Arrivals(), http_port, smtp_port)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    try:
        await stop.wait()
    finally:
        for server in (http, smtp):
            server.close()


def main(argv: list[str]) -> int:
    asyncio.run(serve(int(argv[0]), int(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
