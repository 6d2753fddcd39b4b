"""The stack the cluster chaos suite breaks: a three-node Apache Kafka cluster with a
fault proxy on every listener of every node, PostgreSQL, the journaling sinks, and
every Postino role as processes of its own, two instances each in consumer groups.

Every byte to a node crosses one of its proxies: clients reach its `PLAINTEXT` front,
the other nodes its `REPLICATION` and `CONTROLLER` fronts. Cutting node n resets and
refuses everything at n's fronts, and, at the other nodes' fronts, every connection
n itself opens (told apart by the client port, which n's process owns): n hears
nothing and reaches nobody, while the other two still talk to each other.

The roles run in the production profile's Kafka settings: idempotent producers with
acks=all, topics with three replicas and `min.insync.replicas` 2, consumer groups.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from devkit.kafka_cluster import KafkaCluster
from tests.chaos.cluster_admin import wait_isr_full
from tests.chaos.run import API_KEY, CITIZENS, Plan, _env, seed
from tests.chaos.stack import Postgres, Role, Sinks
from tests.faultproxy import FaultProxy, free_port

#: Every role, two instances each ("<role>-1", "<role>-2"), as a deploy runs them.
ROLES = ("ingress", "deliver", "notify", "callbacks", "payments", "reminders")
CONSUMERS = frozenset({"deliver", "notify", "callbacks", "payments"})
PREFIX = "chaos."


def owned_by(pid: int, port: int) -> Callable[[int], bool]:
    """A predicate on a client port: does process `pid` hold a connection from that
    port to `port` (the proxy's)?"""

    def owns(client_port: int) -> bool:
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(
            c.laddr and c.laddr.port == client_port and c.raddr and c.raddr.port == port
            for c in conns
        )

    return owns


@dataclass
class ClusterStack:
    folder: Path
    pg: Postgres
    cluster: KafkaCluster
    proxies: dict[tuple[int, str], FaultProxy]
    sinks: Sinks
    base_env: dict[str, str]
    http_ports: list[int]
    instances: int = 2
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap

    def ingress_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/api/v1/messages" for port in self.http_ports]

    # -- roles -----------------------------------------------------------------------

    def start_roles(self, roles: Sequence[str]) -> None:
        for role in roles:
            for n in range(1, self.instances + 1):
                self.start_role(role, n)

    def start_role(self, role: str, n: int) -> Role:
        name = f"{role}-{n}"
        env = {**self.base_env, "POSTINO_INSTANCE_ID": name, "POSTINO_OPS_PORT": str(free_port())}
        if role == "ingress":
            env["POSTINO_HTTP_PORT"] = str(self.http_ports[n - 1])
        started = Role(name, role, env, self.folder / "logs")
        started.start()
        self.roles[name] = started
        return started

    async def restart_role(self, name: str, timeout: float = 120.0) -> float:
        """SIGTERM one instance (it drains), start it again, wait until it is ready
        (and, for a consumer, holds partitions again); the seconds it was out."""
        role = self.roles[name]
        began = time.monotonic()
        marks = _assignments(role.log_dir / f"{name}.log")
        await asyncio.to_thread(role.stop, 60.0)
        role.start()
        await self.wait_ready(role, after=marks, timeout=timeout)
        return time.monotonic() - began

    async def wait_ready(self, role: Role, after: int = 0, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{role.env['POSTINO_OPS_PORT']}/readyz"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while not await _ready(session, url):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{role.name} not ready within {timeout:g} s")
                await asyncio.sleep(0.5)
        if role.role not in CONSUMERS:
            return
        log = role.log_dir / f"{role.name}.log"
        while _assignments(log) <= after:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{role.name} got no partitions within {timeout:g} s")
            await asyncio.sleep(0.5)

    # -- the cluster -----------------------------------------------------------------

    def cut(self, node: int) -> None:
        """Node `node` hears nothing and reaches nobody (see the module docstring)."""
        pid = self.cluster.node(node).pid
        for (owner, _), proxy in self.proxies.items():
            if owner == node:
                proxy.drop()
            elif pid is not None:
                proxy.shun(owned_by(pid, proxy.port))

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()

    async def wait_isr_full(self, timeout: float = 180.0) -> float:
        return await wait_isr_full(self.bootstrap, PREFIX, timeout)

    async def stop_all(self) -> None:
        await asyncio.gather(
            *(asyncio.to_thread(role.stop, 15.0) for role in self.roles.values()),
            return_exceptions=True,
        )
        await asyncio.to_thread(self.cluster.stop)
        await asyncio.to_thread(self.pg.kill)
        await self.sinks.stop()
        for proxy in self.proxies.values():
            await proxy.close()


def _assignments(log: Path) -> int:
    """How many assignments that gave the role partitions its log holds."""
    if not log.exists():
        return 0
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if '"partitions_assigned"' in line and json.loads(line).get("count", 0) > 0
    )


async def _ready(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as answer:
            return answer.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def cluster_env(stack_env: dict[str, str], bootstrap: str) -> dict[str, str]:
    """The single-broker chaos environment, on the cluster, with the production
    profile's Kafka settings."""
    return {
        **stack_env,
        "POSTINO_KAFKA_BOOTSTRAP": bootstrap,
        "POSTINO_KAFKA_ASSIGNMENT": "group",
        "POSTINO_KAFKA_REPLICATION_FACTOR": "3",
        "POSTINO_KAFKA_ENABLE_IDEMPOTENCE": "true",
        "POSTINO_TOPIC_PREFIX": PREFIX,
    }


@contextlib.asynccontextmanager
async def cluster_stack(
    plan: Plan, roles: Sequence[str] = ROLES, instances: int = 2
) -> AsyncIterator[ClusterStack]:
    """Everything up (roles ready and holding partitions); everything down on exit."""
    folder = Path(tempfile.mkdtemp(prefix="postino-cluster-"))
    pg = Postgres(folder / "pg")
    cluster = KafkaCluster(folder / "broker", fronted=True)
    proxies = {
        (node, name): FaultProxy(("127.0.0.1", ports.back), port=ports.front)
        for node, name, ports in cluster.routes()
    }
    sinks = Sinks(folder / "arrivals.jsonl")
    http_ports = [free_port() for _ in range(instances)]
    stack = ClusterStack(folder, pg, cluster, proxies, sinks, {}, http_ports, instances)
    try:
        for proxy in proxies.values():
            await proxy.open()
        url = await asyncio.to_thread(pg.start)
        await asyncio.to_thread(cluster.start)
        await sinks.start()
        base = _env(folder, url, cluster.bootstrap, sinks, http_port=http_ports[0], plan=plan)
        stack.base_env = cluster_env(base, cluster.bootstrap)
        await seed(stack.base_env, sinks)
        await stack.wait_isr_full()
        stack.start_roles(roles)
        await asyncio.gather(*(stack.wait_ready(r) for r in stack.roles.values()))
        yield stack
    finally:
        await stack.stop_all()


__all__ = ["API_KEY", "CITIZENS", "ClusterStack", "cluster_stack"]
