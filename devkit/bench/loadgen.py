"""A cheap HTTP/1.1 load generator on raw asyncio protocols (no client library).

Requests are pre-encoded bytes; responses are parsed just enough to find the status
and the end of the body (`Content-Length`). Each connection is keep-alive with one
request in flight, so latency is per request. Two modes:
- closed loop (`run_closed`): `concurrency` connections send back to back;
- open loop (`run_open`): requests are scheduled at a fixed rate; a request that
  finds no idle connection waits, and its latency counts from its scheduled time
  (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from devkit.bench.stats import Latencies


def encode_request(
    method: str, host: str, path: str, headers: dict[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True)
class LoadResult:
    sent: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    latencies: Latencies = field(default_factory=Latencies)
    bodies: list[bytes] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    errors: int = 0

    def merge(self, other: LoadResult) -> None:
        """Add another run's counts (rounds of the same measurement)."""
        self.sent += other.sent
        self.statuses.update(other.statuses)
        self.latencies.extend(other.latencies)
        self.bodies += other.bodies
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.errors += other.errors

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


class _Conn(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, on_done: Callable[[_Conn, int, bytes], None]) -> None:
        self._on_done = on_done
        self._buf = bytearray()
        self._need = -1
        self._status = 0
        self.transport: asyncio.Transport | None = None
        self.started = 0.0
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):
            self.transport = transport

    def send(self, data: bytes, started: float) -> None:
        self.started = started
        if self.transport is not None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            if self._need < 0:
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self._buf[:end]).lower()
                self._status = int(head[9:12])
                self._need = _content_length(head)
                del self._buf[: end + 4]
            if len(self._buf) < self._need:
                return
            body = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            self._need = -1
            self._on_done(self, self._status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class LoadGenerator:
    """Drives one HTTP endpoint with pre-encoded requests (cycled)."""

    def __init__(
        self, host: str, port: int, requests: Sequence[bytes], *, keep_bodies: bool = False
    ) -> None:
        self._host, self._port = host, port
        self._requests = itertools.cycle(requests)
        self._keep_bodies = keep_bodies
        self._result = LoadResult()
        self._conns: list[_Conn] = []

    async def _connect(self, count: int, on_done: Callable[[_Conn, int, bytes], None]) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            _, proto = await loop.create_connection(lambda: _Conn(on_done), self._host, self._port)
            self._conns.append(proto)

    def _record(self, conn: _Conn, status: int, body: bytes, now: float) -> None:
        result = self._result
        result.statuses[status] += 1
        result.latencies.add(now - conn.started)
        if self._keep_bodies and 200 <= status < 300:
            result.bodies.append(body)

    async def _close(self) -> None:
        for conn in self._conns:
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.gather(*(c.lost for c in self._conns), return_exceptions=True)

    async def run_closed(self, concurrency: int, seconds: float) -> LoadResult:
        """`concurrency` connections sending back to back for `seconds`."""
        deadline = 0.0

        def on_done(conn: _Conn, status: int, body: bytes) -> None:
            now = time.perf_counter()
            self._record(conn, status, body, now)
            if now < deadline:
                self._result.sent += 1
                conn.send(next(self._requests), now)
            else:
                idle.append(conn)

        idle: list[_Conn] = []
        await self._connect(concurrency, on_done)
        cpu0, start = _cpu(), time.perf_counter()
        deadline = start + seconds
        for conn in self._conns:
            self._result.sent += 1
            conn.send(next(self._requests), start)
        await _wait_for(lambda: len(idle) == len(self._conns), seconds + 30)
        return await self._finish(start, cpu0)

    async def run_open(self, rate: float, seconds: float, max_conns: int = 256) -> LoadResult:
        """Offer `rate` requests/s for `seconds`; latency counted from the scheduled time."""
        idle: list[_Conn] = []
        backlog: collections.deque[float] = collections.deque()

        def on_done(conn: _Conn, status: int, body: bytes) -> None:
            self._record(conn, status, body, time.perf_counter())
            if backlog:
                conn.send(next(self._requests), backlog.popleft())
            else:
                idle.append(conn)

        await self._connect(min(max_conns, 32), on_done)
        idle.extend(self._conns)
        total = int(rate * seconds)
        cpu0, start = _cpu(), time.perf_counter()
        while self._result.sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            while self._result.sent < due:
                scheduled = start + self._result.sent / rate
                self._result.sent += 1
                if not idle and len(self._conns) < max_conns:
                    await self._connect(1, on_done)
                    idle.append(self._conns[-1])
                if idle:
                    idle.pop().send(next(self._requests), scheduled)
                else:
                    backlog.append(scheduled)
            await asyncio.sleep(0.002)
        # A loaded machine answers late: wait for the backlog rather than fail the run.
        await _wait_for(lambda: len(idle) == len(self._conns) and not backlog, 120 + 3 * seconds)
        return await self._finish(start, cpu0)

    async def _finish(self, start: float, cpu0: float) -> LoadResult:
        self._result.seconds = time.perf_counter() - start
        self._result.cpu_seconds = _cpu() - cpu0
        await self._close()
        return self._result


def _content_length(head: bytes) -> int:
    at = head.find(b"content-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at)
    return int(head[at + 15 : stop if stop > 0 else len(head)])


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _wait_for(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("load generator: responses still missing at the deadline")
        await asyncio.sleep(0.01)


def host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = rest.partition(":")
    return host, int(port or 80)
