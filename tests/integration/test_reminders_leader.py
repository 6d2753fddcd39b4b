"""Two reminders processes over one PostgreSQL: exactly one is active at a time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from tests.conftest import eventually
from worker.bootstrap import Runtime
from worker.roles.reminders import LOCK_KEY, ReminderProcess

_HOLDERS = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted"


async def test_two_reminders_processes_one_active_the_other_takes_over(runtime: Runtime) -> None:
    fast = replace(runtime.settings.reminders, interval_seconds=0.05, standby_poll_seconds=0.05)
    rt = replace(runtime, settings=replace(runtime.settings, reminders=fast))
    first, second = ReminderProcess(rt), ReminderProcess(rt)
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(first.run(stop_first)),
        asyncio.create_task(second.run(stop_second)),
    ]
    try:
        procs = (first, second)
        await eventually(lambda: _rounds(procs), lambda r: max(r) >= 3)
        active = first if first.active else second
        standby = second if active is first else first
        assert not standby.active and standby.rounds == 0
        assert await runtime.pool.fetchval(_HOLDERS, LOCK_KEY) == 1

        (stop_first if active is first else stop_second).set()
        await eventually(lambda: _rounds((standby,)), lambda r: r[0] >= 3)
        assert standby.active and not active.active
        assert await runtime.pool.fetchval(_HOLDERS, LOCK_KEY) == 1
    finally:
        stop_first.set()
        stop_second.set()
        await asyncio.gather(*tasks)
    assert await runtime.pool.fetchval(_HOLDERS, LOCK_KEY) == 0


async def _rounds(procs: tuple[ReminderProcess, ...]) -> list[int]:
    return [p.rounds for p in procs]
