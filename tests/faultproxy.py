"""A small fault-injecting TCP proxy for tests: listen on a port, forward to a target.

Faults, switched at any time from the test:
- `delay(seconds)`: every chunk waits that long before it is forwarded (both ways);
- `drop()`: every open connection is reset, and new ones are reset as they come, until
  `heal()`;
- `partition()`: nothing is forwarded either way (connections stay open, bytes wait,
  as TCP's retransmissions would make them), until `heal()`, when they flow again;
- `close()` / `open()`: stop listening (connection refused) and listen again;
- `shun(source)`: every connection whose client end `source(port)` claims (the
  client's local port: a predicate that knows which process owns it) is reset, and
  new ones are reset as they come, until `heal()`: one process cut off, others not.

The target is `(host, port)` or the path of a Unix socket (PostgreSQL's).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class FaultProxy:
    target: tuple[str, int] | str
    port: int = field(default_factory=free_port)
    latency: float = 0.0
    dropping: bool = False
    flowing: asyncio.Event = field(default_factory=asyncio.Event)
    shunned: Callable[[int], bool] | None = None
    _server: asyncio.Server | None = None
    _pipes: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    #: The client's port of each accepted connection (its downstream writer).
    _clients: dict[asyncio.StreamWriter, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.flowing.set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Stop listening and reset every connection (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        self._reset_all()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def delay(self, seconds: float) -> None:
        self.latency = seconds

    def drop(self) -> None:
        self.dropping = True
        self._reset_all()

    def partition(self) -> None:
        self.flowing.clear()

    def shun(self, source: Callable[[int], bool]) -> None:
        self.shunned = source
        for writer, port in list(self._clients.items()):
            if source(port):
                _reset(writer)

    def heal(self) -> None:
        self.latency = 0.0
        self.dropping = False
        self.shunned = None
        self.flowing.set()

    def _reset_all(self) -> None:
        for writer in list(self._writers):
            _reset(writer)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if isinstance(self.target, str):
            return await asyncio.open_unix_connection(self.target)
        return await asyncio.open_connection(*self.target)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client_port = int(writer.get_extra_info("peername")[1])
        if self.dropping or (self.shunned is not None and self.shunned(client_port)):
            _reset(writer)
            return
        try:
            up_reader, up_writer = await self._connect()
        except OSError:
            _reset(writer)
            return
        self._writers |= {writer, up_writer}
        self._clients[writer] = client_port
        if self.shunned is not None and self.shunned(client_port):  # shunned meanwhile
            _reset(writer)
        pipes = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipes:
                task.cancel()
            await asyncio.gather(*pipes, return_exceptions=True)
            self._pipes.difference_update(pipes)
            self._clients.pop(writer, None)
            for w in (writer, up_writer):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await reader.read(65536):
                await self.flowing.wait()
                if self.latency:
                    await asyncio.sleep(self.latency)
                if self.dropping:
                    return
                writer.write(chunk)
                await writer.drain()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dropped connection looks to its peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    with contextlib.suppress(Exception):
        writer.close()
