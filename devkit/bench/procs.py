"""The processes under test: started as real `postino` subprocesses, measured via /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def memory_kb(pid: int, field: str = "VmHWM") -> int:
    """A `/proc/<pid>/status` memory field in kB: VmHWM is the peak resident set."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stack_pids(pgdata: Path, bootstrap: str) -> dict[str, list[int]]:
    """The embedded stack's processes: the broker listening on `bootstrap`, and the
    postmaster of `pgdata` with its backends (other runs' stacks on the machine excluded)."""
    listener = f"tcp://{bootstrap} ".encode()
    found: dict[str, list[int]] = {"broker": [], "postgres": []}
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            parents[int(entry.name)] = int(
                (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            )
        except (OSError, IndexError, ValueError):
            continue
        if b"tansu" in cmdline and listener in cmdline:
            found["broker"].append(int(entry.name))
        elif str(pgdata).encode() in cmdline and b"postgres" in cmdline:
            found["postgres"].append(int(entry.name))
    masters = set(found["postgres"])
    found["postgres"] += [pid for pid, ppid in parents.items() if ppid in masters]
    return found


def group_cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class Service:
    """One subprocess (a `postino` role or the bare ingress), stopped with SIGTERM."""

    def __init__(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path
    ) -> None:
        self.name = name
        self._argv = list(argv)
        # PYTHONSAFEPATH: `python -m` would put the working directory first on
        # `sys.path`, so a bench started from a checkout would run that checkout's
        # `worker` even for a side whose PYTHONPATH names another tree (`--ab-a-tree`).
        self._env = {**os.environ, "PYTHONSAFEPATH": "1", **env}
        self._log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def start(self) -> None:
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self._argv, env=self._env, stdout=self._log, stderr=subprocess.STDOUT
        )

    async def wait_http(self, host: str, port: int, timeout: float = 90.0) -> None:
        """Wait until the process accepts TCP connections on (host, port)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection(host, port)
                writer.close()
                return
            except OSError:
                if loop.time() > deadline:
                    raise RuntimeError(
                        f"{self.name} is not listening on {port}:\n{self.log_tail()}"
                    ) from None
                await asyncio.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()


def counted(counts: Path, module: str, *args: str) -> list[str]:
    """argv of `python -m <module> <args>` with its Kafka requests counted into `counts`."""
    return [sys.executable, "-m", "devkit.bench.kafkacount", str(counts), module, *args]


def sinks(http_port: int, smtp_port: int) -> list[str]:
    return [sys.executable, "-m", "devkit.bench.sinks", str(http_port), str(smtp_port)]
