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
from tests.chaos.run import Plan, _env
from tests.chaos.stack import Postgres, Role, Sinks, _listening
from tests.factories import create_profile, create_service
from tests.faultproxy import free_port
from worker.bootstrap import open_runtime
from worker.lifecycle import prepare
from worker.settings import load_settings

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


async def _seed(env: dict[str, str], sinks: Sinks) -> None:
    settings = load_settings(env)
    await prepare(settings)
    async with open_runtime(settings) as runtime:
        await create_service(
            runtime,
            id="soak-service",
            api_key=API_KEY,
            organization_fiscal_code=ORGANIZATION,
            premium=True,
            payments=True,
            callback_url=f"http://127.0.0.1:{sinks.callback_port}/hook",
            callback_secret="soak-callback-secret",
        )
        for citizen in CITIZENS:
            await create_profile(
                runtime, citizen, email=f"{citizen.lower()}@example.org", email_validated=True
            )


@contextlib.asynccontextmanager
async def soak_stack() -> AsyncIterator[SoakStack]:
    folder = Path(tempfile.mkdtemp(prefix="postino-soak-"))
    pg = Postgres(folder / "pg")
    broker = KafkaBroker(folder / "broker")
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
        await _seed(stack.env, sinks)
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
