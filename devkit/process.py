"""Child processes of the embedded launchers: started on free ports, logged to a file,
stopped or killed, and dying with their parent even when the parent is killed."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from worker import logs

log = logs.get("postino.embedded")

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent(death_signal: int = signal.SIGTERM) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, death_signal)


class ChildProcess:
    """One child process with its log file: started, waited for, stopped or killed."""

    def __init__(self, name: str, log_path: Path, death_signal: int = signal.SIGTERM) -> None:
        """`death_signal`: what the child gets when this process dies (a JVM's clean
        shutdown can take a minute; SIGKILL it instead)."""
        self.name = name
        self.death_signal = death_signal
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own binaries, fixed arguments
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=functools.partial(die_with_parent, self.death_signal),
            start_new_session=True,  # a terminal Ctrl-C reaches us, and we drain first
        )

    def wait_listening(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"embedded {self.name} exited: see {self.log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"embedded {self.name} did not start listening on {port}")

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self, kill: bool = False, grace: float = 5.0) -> None:
        """Idempotent: SIGTERM (SIGKILL after `grace` s), or SIGKILL at once with `kill`."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            if kill:
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.info(f"embedded_{self.name}_stopped", pid=proc.pid, killed=kill)
        if self._log is not None:
            self._log.close()
            self._log = None
