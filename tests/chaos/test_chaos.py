"""Chaos: every role a process on the durable broker and PostgreSQL, messages offered
at a fixed rate with client retries, faults injected; PASS only at all zeros.

`make chaos` runs the full suite (10,000 messages, every fault); `make test` runs the
short variant (1,000 messages, a notify kill and a broker kill).
"""

from __future__ import annotations

import pytest

from tests.chaos import faults
from tests.chaos.run import Plan, run

SHORT = Plan(
    messages=1_000,
    rate=25.0,
    faults=[faults.kill_restart("notify", at=6.0), faults.broker_restart(at=15.0)],
    roles=(
        ("ingress", "ingress"),
        ("deliver", "deliver"),
        ("notify", "notify"),
        ("callbacks", "callbacks"),
    ),
    drain_seconds=600.0,
)

FULL = Plan(
    messages=10_000,
    rate=34.0,
    faults=[
        faults.kill_restart("deliver", at=12.0),
        faults.kill_restart("notify", at=27.0),
        faults.kill_restart("ingress", at=42.0),
        faults.kill_restart("callbacks", at=57.0),
        faults.kill_restart("payments", at=72.0),
        faults.kill_restart("reminders", at=84.0),
        faults.broker_restart(at=96.0),
        faults.postgres_restart(at=114.0),
        faults.network("delay", at=132.0, seconds=5.0),
        faults.network("drop", at=147.0, seconds=3.0),
        faults.network("partition", at=162.0, seconds=5.0),
        faults.to_group_mode(at=180.0),
        faults.kill_one_of_each(at=210.0),
    ],
    drain_seconds=400.0,
)


@pytest.mark.chaos_short
@pytest.mark.timeout(900)
async def test_short_chaos_a_notify_kill_and_a_broker_kill_lose_and_repeat_nothing() -> None:
    outcome = await run(SHORT)
    print("\n" + outcome.table())
    assert outcome.passed, outcome.table()


@pytest.mark.chaos
@pytest.mark.timeout(1200)
async def test_chaos_every_fault_loses_nothing_strands_nothing_repeats_nothing() -> None:
    outcome = await run(FULL)
    print("\n" + outcome.table())
    assert outcome.passed, outcome.table()
