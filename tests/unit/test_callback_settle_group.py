"""Settling callbacks in groups (`GroupWrite`): attempts that end while a write is
running are written together in the next one, and each caller returns only once its
own row is written, or raises what that write raised."""

from __future__ import annotations

import asyncio

import pytest

from worker.adapters.webhook import GroupWrite, Settlement
from worker.core.errors import RetryableError


class Table:
    """A write that holds until released, recording each statement's rows."""

    def __init__(self) -> None:
        self.writes: list[list[Settlement]] = []
        self.gate = asyncio.Event()
        self.failure: Exception | None = None

    async def write(self, items: list[Settlement]) -> None:
        self.writes.append(items)
        await self.gate.wait()
        if self.failure is not None:
            raise self.failure


async def until(condition: object) -> None:
    for _ in range(1000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_a_lone_settlement_is_written_at_once() -> None:
    table = Table()
    table.gate.set()
    await GroupWrite(table.write).add(("k1", "delivered"))
    assert table.writes == [[("k1", "delivered")]]


async def test_settlements_arriving_during_a_write_go_together_in_the_next() -> None:
    table = Table()
    group = GroupWrite(table.write)
    first = asyncio.create_task(group.add(("k1", "delivered")))
    await until(lambda: len(table.writes) == 1)
    later = [asyncio.create_task(group.add((f"k{n}", "delivered"))) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in later)  # each waits for its own row
    table.gate.set()
    await asyncio.gather(first, *later)
    assert table.writes == [
        [("k1", "delivered")],
        [("k2", "delivered"), ("k3", "delivered"), ("k4", "delivered")],
    ]


async def test_a_failed_write_fails_every_settlement_it_carried() -> None:
    table = Table()
    group = GroupWrite(table.write)
    blocker = asyncio.create_task(group.add(("k1", "delivered")))
    await until(lambda: len(table.writes) == 1)
    carried = [asyncio.create_task(group.add((f"k{n}", "refused"))) for n in (2, 3)]
    await asyncio.sleep(0)
    table.failure = RetryableError("database unavailable")
    table.gate.set()
    for task in (blocker, *carried):
        with pytest.raises(RetryableError):
            await task
    table.failure = None
    await group.add(("k2", "refused"))  # the next one writes again
    assert table.writes[-1] == [("k2", "refused")]
