"""The faults the chaos suite injects, each healed after a few seconds."""

from __future__ import annotations

import asyncio
import json
import time

from tests.chaos.run import Fault
from tests.chaos.stack import Stack


def kill_restart(name: str, at: float, down: float = 2.0) -> Fault:
    """kill -9 a role, start it again `down` seconds later (same instance id)."""

    async def inject(stack: Stack) -> None:
        role = stack.roles[name]
        await asyncio.to_thread(role.kill)
        await asyncio.sleep(down)
        role.start()

    return Fault(f"kill -9 {name}, restart after {down:g} s", at, inject)


def broker_restart(at: float, down: float = 3.0) -> Fault:
    async def inject(stack: Stack) -> None:
        await asyncio.to_thread(stack.broker.kill)
        await asyncio.sleep(down)
        await asyncio.to_thread(stack.broker.start)

    return Fault(f"kill -9 broker, restart after {down:g} s", at, inject)


def postgres_restart(at: float, down: float = 3.0) -> Fault:
    async def inject(stack: Stack) -> None:
        await asyncio.to_thread(stack.pg.kill)
        await asyncio.sleep(down)
        await asyncio.to_thread(stack.pg.start)

    return Fault(f"kill -9 PostgreSQL, restart after {down:g} s", at, inject)


def network(kind: str, at: float, seconds: float) -> Fault:
    """Between every role and the broker: `delay` (200 ms a chunk), `drop` (every
    connection reset, new ones too) or `partition` (nothing flows, connections stay)."""

    async def inject(stack: Stack) -> None:
        proxy = stack.proxy
        if kind == "delay":
            proxy.delay(0.2)
        elif kind == "drop":
            proxy.drop()
        else:
            proxy.partition()
        await asyncio.sleep(seconds)
        proxy.heal()

    what = {"delay": "delay 200 ms", "drop": "drop (reset)", "partition": "partition"}[kind]
    return Fault(f"network {what} for {seconds:g} s", at, inject)


def to_group_mode(at: float, timeout: float = 120.0) -> Fault:
    """SIGTERM the direct-assignment deliver and notify; start two of each in a group,
    and wait until each of the four holds partitions (a shared group, not one member
    that owns everything)."""

    async def inject(stack: Stack) -> None:
        for name in ("deliver", "notify"):
            await asyncio.to_thread(stack.roles.pop(name).stop)
        names = [f"{role}-{n}" for n in (1, 2) for role in ("deliver", "notify")]
        for name in names:
            stack.role(name, name.split("-")[0], POSTINO_KAFKA_ASSIGNMENT="group")
        deadline = time.monotonic() + timeout
        while not all(_holds_partitions(stack, name) for name in names):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the groups did not form within {timeout:g} s")
            await asyncio.sleep(0.5)

    return Fault("switch: 2 deliver + 2 notify in groups", at, inject)


def _holds_partitions(stack: Stack, name: str) -> bool:
    """The role's last assignment (from its log) gave it at least one partition."""
    log = stack.folder / "logs" / f"{name}.log"
    counts = (
        [
            json.loads(line).get("count", 0)
            for line in log.read_text().splitlines()
            if '"partitions_assigned"' in line
        ]
        if log.exists()
        else []
    )
    return bool(counts) and counts[-1] > 0


def kill_one_of_each(at: float) -> Fault:
    """kill -9 one deliver and one notify of the groups, for good: a rebalance."""

    async def inject(stack: Stack) -> None:
        for name in ("deliver-2", "notify-2"):
            await asyncio.to_thread(stack.roles[name].kill)

    return Fault("group: kill -9 deliver-2 + notify-2", at, inject)
