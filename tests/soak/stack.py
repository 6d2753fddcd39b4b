"""The soak's stack: PostgreSQL, one Apache Kafka broker, the journaling sinks of the
chaos suite, and every Postino role as a process of its own in consumer groups, with
the production profile's Kafka settings (idempotent producers, acks=all)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from devkit.kafka import KafkaBroker
from tests.chaos.run import Plan, _env, seed
from tests.chaos.stack import Postgres, Role, Sinks, _listening
from tests.faultproxy import free_port

ROLES = ("ingress", "deliver", "notify", "callbacks", "payments", "reminders")
API_KEY = "soak-key"
ORGANIZATION = "12345678901"
CITIZENS = [f"SKSMRA{n % 100:02d}A{n // 100:02d}H501U" for n in range(1000)]


class QuietSinks(Sinks):
    """The chaos sinks, whose journal the soak reads itself (`journal.Tail`): an hour
    of arrivals is not kept in memory."""

    def refresh(self) -> None:
        return


@dataclass
class SoakStack:
    folder: Path
    pg: Postgres
    broker: KafkaBroker
    sinks: QuietSinks
    env: dict[str, str]
    http_port: int
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.pg.url

    def pids(self) -> dict[str, int]:
        """The processes to watch, by name (PostgreSQL: the postmaster)."""
        found = {name: r.proc.pid for name, r in self.roles.items() if r.proc is not None}
        if self.broker.pid is not None:
            found["kafka"] = self.broker.pid
        if (pm := self.pg.postmaster_pid()) is not None:
            found["postgres"] = pm
        sinks = self.sinks._proc
        if sinks is not None:
            found["sinks"] = sinks.pid
        return found


def soak_env(base: dict[str, str]) -> dict[str, str]:
    return {
        **base,
        "POSTINO_KAFKA_ASSIGNMENT": "group",
        "POSTINO_KAFKA_ENABLE_IDEMPOTENCE": "true",
        "POSTINO_KAFKA_PARTITIONS": "8",
        "POSTINO_TOPIC_PREFIX": "soak.",
        "POSTINO_LOG_LEVEL": "warning",
        "POSTINO_SWEEPER_INTERVAL_SECONDS": "10",
        "POSTINO_SERVICE_REFRESH_SECONDS": "10",
        "POSTINO_REMINDER_INTERVAL_SECONDS": "30",
        "POSTINO_NOTIFY_LEASE_SECONDS": "60",
    }


@contextlib.asynccontextmanager
async def soak_stack() -> AsyncIterator[SoakStack]:
    folder = Path(tempfile.mkdtemp(prefix="postino-soak-"))
    pg = Postgres(folder / "pg")
    broker = KafkaBroker(folder / "broker", fixed_heap=True)
    sinks = QuietSinks(folder / "arrivals.jsonl")
    http_port = free_port()
    stack = SoakStack(folder, pg, broker, sinks, {}, http_port)
    try:
        url = await asyncio.to_thread(pg.start)
        await asyncio.to_thread(broker.start)
        await sinks.start()
        plan = Plan(messages=0, rate=1.0, faults=())
        base = _env(folder, url, broker.bootstrap, sinks, http_port=http_port, plan=plan)
        stack.env = soak_env(base)
        await seed(
            stack.env,
            sinks,
            service_id="soak-service",
            api_key=API_KEY,
            citizens=CITIZENS,
            organization_fiscal_code=ORGANIZATION,
            premium=True,
            payments=True,
        )
        for role in ROLES:
            env = {**stack.env, "POSTINO_INSTANCE_ID": role, "POSTINO_OPS_PORT": str(free_port())}
            stack.roles[role] = Role(role, role, env, folder / "logs")
            stack.roles[role].start()
        await _listening(http_port, 90.0)
        yield stack
    finally:
        for role in stack.roles.values():
            await asyncio.to_thread(role.stop, 15.0)
        await asyncio.to_thread(broker.stop)
        await asyncio.to_thread(pg.kill)
        await sinks.stop()
