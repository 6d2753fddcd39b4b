"""What every part of a bench run shares: its options and its stack (`Bench`).

The stack (PostgreSQL + broker) lives in a temporary directory and dies with the run;
the processes under test are real `postino` subprocesses pointed at it (`role()`),
each counting its Kafka requests into its own file, so their CPU, peak memory and
requests are their own. The run itself is `devkit.bench.run`.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg

from devkit.bench import procs, workload
from devkit.brokers import Services, embedded_services
from devkit.embedded import free_port
from devkit.kafka_dist import kafka_version
from worker import logs
from worker.bootstrap import Runtime, open_runtime
from worker.lifecycle import prepare
from worker.settings import Settings, load_settings

log = logs.get("postino.bench")


@dataclass(frozen=True, slots=True)
class BenchOptions:
    """Sizes of one run (the defaults take about 4 minutes on 2 cores)."""

    concurrency: int = 32
    ingress_seconds: float = 30.0
    deliver_messages: int = 50_000
    e2e_rate: int = 1000
    e2e_seconds: float = 30.0
    saturate_seconds: float = 20.0
    pipeline_rate: int = 500
    pipeline_seconds: float = 15.0
    citizens: int = 3000
    partitions: int = 8
    profile: bool = False
    #: `devkit.brokers` kind: auto (Apache Kafka when Java is there), kafka, memory.
    broker: str = "auto"

    @classmethod
    def quick(cls, **changes: Any) -> BenchOptions:
        base = cls(
            ingress_seconds=6.0,
            deliver_messages=8000,
            e2e_seconds=6.0,
            saturate_seconds=4.0,
            pipeline_seconds=5.0,
            citizens=1000,
        )
        return replace(base, **changes)

    @classmethod
    def paired(cls, **changes: Any) -> BenchOptions:
        """Shorter phases for A/B rounds (each side runs every round)."""
        base = cls(e2e_seconds=10.0, saturate_seconds=8.0, pipeline_seconds=10.0)
        return replace(base, **changes)


class Bench:
    """The stack's endpoints and the environment every process of the run shares."""

    def __init__(
        self, options: BenchOptions, services: Services, workdir: Path, out_dir: Path
    ) -> None:
        self.options = options
        self.url = services.url
        self.bootstrap = services.broker.bootstrap
        self.broker = services.broker
        self.broker_kind = services.choice.kind
        #: What the report names: "Apache Kafka 4.4.0", "Tansu (in memory)".
        self.broker_label = services.choice.label + (
            f" {kafka_version()}" if self.broker_kind == "kafka" else ""
        )
        self.workdir = workdir
        self.profile_dir = out_dir / "profile" if options.profile else None
        self._prefixes = itertools.count()

    @property
    def pgdata(self) -> Path:
        return (self.workdir / "stack" / "pgdata").resolve()

    def prefix(self, name: str) -> str:
        return f"b{next(self._prefixes)}-{name}."

    def env(self, prefix: str, port: int | None = None, **extra: str) -> dict[str, str]:
        env = {
            "POSTINO_PROFILE": "dev",
            "POSTINO_DATABASE_URL": self.url,
            "POSTINO_KAFKA_BOOTSTRAP": self.bootstrap,
            "POSTINO_KAFKA_ASSIGNMENT": "direct",
            "POSTINO_KAFKA_PARTITIONS": str(self.options.partitions),
            "POSTINO_TOPIC_PREFIX": prefix,
            "POSTINO_ID_SECRET": "postino-bench-id-secret",
            "POSTINO_ADMIN_TOKEN": "postino-bench-admin",
            "POSTINO_DATA_DIR": str(self.workdir / "data"),
            "POSTINO_LOG_LEVEL": "warning",
            "POSTINO_DEFAULT_RATE_PER_SECOND": "1000000000",
            "POSTINO_DEFAULT_DAILY_QUOTA": "2000000000",
            "POSTINO_HTTP_HOST": "127.0.0.1",
            "POSTINO_OPS_PORT": "0",  # several roles run side by side
            **extra,
        }
        if self.broker.fetch_max_wait_ms is not None:  # the poll Tansu in memory wants
            env["POSTINO_KAFKA_FETCH_MAX_WAIT_MS"] = str(self.broker.fetch_max_wait_ms)
        if port is not None:
            env["POSTINO_HTTP_PORT"] = str(port)
        return env

    def stack_pids(self) -> dict[str, list[int]]:
        """The broker's and PostgreSQL's processes (their CPU is the stack's share)."""
        found = procs.stack_pids(self.pgdata, self.bootstrap)
        pid = self.broker.pid
        found["broker"] = [pid] if pid is not None else []
        return found

    async def settings(self, prefix: str) -> Settings:
        """Settings for `prefix`, with its topics created."""
        settings = load_settings(self.env(prefix))
        await prepare(settings)
        return settings

    @asynccontextmanager
    async def runtime(self, prefix: str) -> AsyncIterator[Runtime]:
        async with open_runtime(await self.settings(prefix)) as runtime:
            yield runtime

    async def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.url)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def seed(self) -> None:
        """The schema and topics, then the workload's service and citizens."""
        await self.settings(self.prefix("setup"))
        conn = await asyncpg.connect(self.url)
        try:
            await workload.seed(conn, self.options.citizens)
        finally:
            await conn.close()

    async def reset_inbox(self) -> None:
        """The inbox as each phase finds it: a history, analyzed (`workload.reset_history`)."""
        conn = await asyncpg.connect(self.url)
        try:
            await workload.reset_history(conn)
        finally:
            await conn.close()

    def counts(self, name: str) -> Path:
        """Where process `name` counts its Kafka requests (see `kafkacount`)."""
        return self.workdir / "kafka-counts" / f"{name}.bin"

    def role(self, name: str, role: str, env: dict[str, str]) -> procs.Service:
        """`postino <role>` as a subprocess named `name`, counting its Kafka requests."""
        return self.process(name, env, "worker", role)

    def process(self, name: str, env: dict[str, str], module: str, *args: str) -> procs.Service:
        """`python -m <module> <args>` as a subprocess named `name`, counting its requests."""
        self.counts(name).parent.mkdir(parents=True, exist_ok=True)
        argv = procs.counted(self.counts(name), module, *args)
        return procs.Service(name, argv, env, self.workdir / "logs")

    @staticmethod
    def port() -> int:
        return free_port()


@asynccontextmanager
async def own_stack(
    options: BenchOptions, name: str, out_dir: Path | None = None
) -> AsyncIterator[Bench]:
    """A seeded `Bench` on an embedded stack of its own, in a temporary directory that
    goes with it; JSON to `out_dir` (default: inside that directory)."""
    with (
        tempfile.TemporaryDirectory(prefix=f"postino-{name}-") as tmp,
        embedded_services(Path(tmp) / "stack", options.broker) as services,
    ):
        bench = Bench(options, services, Path(tmp), out_dir or Path(tmp) / "out")
        await bench.seed()
        yield bench
