"""One cluster chaos run: the stack up, messages offered at a steady rate to the two
ingress instances (a retry goes to the other one, as behind a load balancer), the
faults one after the other under that load, then the books (`books`) plus the
recovery figures of each fault (`cluster_books`).

Each fault's window runs from its start to the next fault's start; the next fault
starts once the previous one is over (cluster whole again) and at least `window`
seconds after it began, so that the minute after each fault is its own.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.chaos.books import Offer, books
from tests.chaos.cluster_books import Report, recovery_rows
from tests.chaos.cluster_faults import FULL, Step
from tests.chaos.cluster_stack import ROLES, ClusterStack, cluster_stack
from tests.chaos.run import CITIZENS, Plan, offer_until_accepted


@dataclass
class ClusterPlan:
    rate: float = 20.0
    steps: Sequence[Step] = FULL
    roles: Sequence[str] = ROLES
    instances: int = 2
    baseline: float = 30.0
    #: The least time from a fault's start to the next one's.
    window: float = 75.0
    #: After the last fault, load goes on this long.
    tail: float = 30.0
    drain_seconds: float = 300.0
    #: "Recovered" once a fresh message goes end to end within this (the baseline's
    #: p99 on this shared 2-core machine is ~4 s with 15 processes and 3 JVMs).
    fresh_seconds: float = 10.0
    details: dict[str, Any] = field(default_factory=dict)

    def base(self) -> Plan:
        return Plan(messages=0, rate=self.rate, faults=(), drain_seconds=self.drain_seconds)


async def _load(
    stack: ClusterStack, rate: float, stop: asyncio.Event, offers: list[Offer], give_up: float
) -> None:
    tasks: list[asyncio.Task[None]] = []
    urls = stack.ingress_urls()
    start = time.time()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for n in itertools.count():
            due = start + n / rate
            if (wait := due - time.time()) > 0:
                await asyncio.sleep(wait)
            if stop.is_set():
                break
            offer = Offer(f"chaos-{n:06d}", CITIZENS[n % len(CITIZENS)], time.time())
            offers.append(offer)
            sending = offer_until_accepted(session, urls, offer, n, give_up)
            tasks.append(asyncio.create_task(sending))
        await asyncio.gather(*tasks)


async def _faults(
    stack: ClusterStack, plan: ClusterPlan, marks: list[tuple[str, float]]
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    await asyncio.sleep(plan.baseline)
    for step in plan.steps:
        started = time.time()
        marks.append((step.name, started))
        print(f"  fault: {step.name}", flush=True)
        try:
            details[step.name] = await step.inject(stack)
        except Exception as exc:
            details[step.name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"    done in {time.time() - started:.0f} s: {details[step.name]}", flush=True)
        await asyncio.sleep(max(plan.window - (time.time() - started), 10.0))
    await asyncio.sleep(plan.tail)
    return details


async def _settle(stack: ClusterStack, offers: Sequence[Offer], deadline: float) -> None:
    """Until every accepted message had its push, its e-mail and a callback, or nothing
    moved for 60 s."""
    sinks, best, moved = stack.sinks, len(offers) + 1, time.time()
    while time.time() < deadline and time.time() - moved < 60.0:
        sinks.refresh()
        told = set(sinks.callback_message.values())
        pending = sum(
            1
            for o in offers
            if o.message_id is not None
            and (
                o.message_id not in sinks.pushes
                or o.token not in sinks.mails
                or o.message_id not in told
            )
        )
        if not pending:
            return
        if pending < best:
            best, moved = pending, time.time()
        await asyncio.sleep(1.0)


async def run(plan: ClusterPlan) -> Report:
    """The whole run; every process it started is gone when it returns."""
    began = time.time()
    offers: list[Offer] = []
    async with cluster_stack(plan.base(), plan.roles, plan.instances) as stack:
        print(f"  stack up in {time.time() - began:.0f} s ({stack.folder})", flush=True)
        marks: list[tuple[str, float]] = [("no fault (baseline)", time.time())]
        stop = asyncio.Event()
        give_up = time.time() + 3600.0
        load = asyncio.create_task(_load(stack, plan.rate, stop, offers, give_up))
        try:
            details = await _faults(stack, plan, marks)
        finally:
            stop.set()
            await load
        await _settle(stack, offers, time.time() + plan.drain_seconds)
        rows = await books(stack, offers, marks, plan.fresh_seconds)
        report = await recovery_rows(stack, offers, marks, rows)
    report.details = details
    for row in report.rows:
        error = details.get(row.books.name, {}).get("error")
        row.error = error
    report.rate = plan.rate
    report.seconds = time.time() - began
    if report.passed:
        await asyncio.to_thread(shutil.rmtree, stack.folder, True)
    else:
        report.kept = str(stack.folder)
    return report
