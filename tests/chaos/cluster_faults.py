"""The faults of the cluster chaos suite. Each returns what it did (which node, how
long the ISR took to refill), and leaves the cluster whole: every partition with all
its replicas in sync again, so that the next fault starts from a healthy cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.chaos.cluster_admin import busiest_leader
from tests.chaos.cluster_stack import PREFIX, ROLES, ClusterStack

SUBMITTED = PREFIX + "messages.submitted"
Details = dict[str, Any]


@dataclass
class Step:
    name: str
    inject: Callable[[ClusterStack], Awaitable[Details]]


def leader_kill(down: float = 10.0) -> Step:
    """kill -9 the leader of the busiest `messages.submitted` partition; start it
    again `down` seconds later."""

    async def inject(stack: ClusterStack) -> Details:
        partition, leader = await busiest_leader(stack.bootstrap, SUBMITTED)
        node = stack.cluster.node(leader)
        await asyncio.to_thread(node.kill)
        await asyncio.sleep(down)
        await asyncio.to_thread(node.start)
        isr = await stack.wait_isr_full()
        return {"node": leader, "partition": partition, "isr_refill_seconds": round(isr, 1)}

    return Step(f"kill -9 busiest leader, back in {down:g} s", inject)


def rolling_brokers() -> Step:
    """Each node in turn: SIGTERM (controlled shutdown), start, wait for a full ISR."""

    async def inject(stack: ClusterStack) -> Details:
        refills = {}
        for node in stack.cluster.nodes:
            await asyncio.to_thread(node.stop)
            await asyncio.to_thread(node.start)
            refills[node.node_id] = round(await stack.wait_isr_full(), 1)
        return {"isr_refill_seconds": refills}

    return Step("rolling restart of the 3 brokers", inject)


def isolate(seconds: float = 20.0) -> Step:
    """Cut the leader of the busiest `messages.submitted` partition off from the other
    nodes and from Postino for `seconds`, then heal."""

    async def inject(stack: ClusterStack) -> Details:
        partition, leader = await busiest_leader(stack.bootstrap, SUBMITTED)
        stack.cut(leader)
        try:
            await asyncio.sleep(seconds)
        finally:
            stack.heal()
        isr = await stack.wait_isr_full()
        return {"node": leader, "partition": partition, "isr_refill_seconds": round(isr, 1)}

    return Step(f"broker cut off for {seconds:g} s", inject)


def controller_kill(down: float = 10.0) -> Step:
    """kill -9 the node of the active controller; start it again `down` s later."""

    async def inject(stack: ClusterStack) -> Details:
        cluster = stack.cluster
        before = cluster.active_controller()
        if before is None:
            raise RuntimeError("no node recorded an active controller")
        await asyncio.to_thread(cluster.node(before).kill)
        elected = await _new_controller(stack, before)
        await asyncio.sleep(down)
        await asyncio.to_thread(cluster.node(before).start)
        isr = await stack.wait_isr_full()
        return {
            "node": before,
            "new_controller": elected[0],
            "election_seconds": round(elected[1], 1),
            "isr_refill_seconds": round(isr, 1),
        }

    return Step(f"kill -9 active controller's node, back in {down:g} s", inject)


async def _new_controller(
    stack: ClusterStack, old: int, timeout: float = 60.0
) -> tuple[int, float]:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        now = stack.cluster.active_controller()
        if now is not None and now != old:
            return now, time.monotonic() - began
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no controller elected within {timeout:g} s of killing node {old}")


def rolling_roles(roles: tuple[str, ...] = ROLES) -> Step:
    """A deploy: every instance of every role in turn, SIGTERM (it drains), start it
    again, and wait until it is ready (a consumer: holding partitions) before the next."""

    async def inject(stack: ClusterStack) -> Details:
        out = {}
        for role in roles:
            for n in range(1, stack.instances + 1):
                name = f"{role}-{n}"
                if name in stack.roles:
                    out[name] = round(await stack.restart_role(name), 1)
        return {"seconds_out": out}

    return Step("rolling restart of every role", inject)


FULL = (leader_kill(), rolling_brokers(), isolate(), controller_kill(), rolling_roles())
SHORT = (leader_kill(),)
