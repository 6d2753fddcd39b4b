"""Grouped calls: what comes due while a call is in flight goes in the next call, and
each caller gets its own answer."""

from __future__ import annotations

import asyncio

import pytest

from worker.services.notify_groups import Grouped


class Recorder:
    """A group call that holds until released, answering each item (or its error)."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.calls.append(items)
        self.started.set()
        await self.release.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_items_that_come_while_a_call_is_in_flight_go_together_in_the_next() -> None:
    call = Recorder()
    async with Grouped(call, "test") as grouped:
        first = asyncio.create_task(grouped(0))
        await call.started.wait()  # the first item is on its way alone
        later = [asyncio.create_task(grouped(i)) for i in (2, 4, 6)]
        await asyncio.sleep(0)
        call.release.set()
        answers = await asyncio.gather(first, *later)

    assert call.calls == [[0], [2, 4, 6]]
    assert answers == [0, 20, 40, 60]


async def test_an_items_error_reaches_its_caller_alone() -> None:
    call = Recorder()
    call.release.set()
    async with Grouped(call, "test") as grouped:
        answers = await asyncio.gather(grouped(1), grouped(2), return_exceptions=True)

    assert isinstance(answers[0], ValueError) and answers[1] == 20


async def test_a_failed_call_fails_each_of_its_items() -> None:
    async def broken(items: list[int]) -> list[int | BaseException]:
        raise RuntimeError("database gone")

    async with Grouped(broken, "test") as grouped:
        answers = await asyncio.gather(grouped(1), grouped(2), return_exceptions=True)

    assert all(isinstance(a, RuntimeError) for a in answers)


async def test_a_call_outside_its_async_with_is_refused() -> None:
    grouped = Grouped(Recorder(), "test")
    with pytest.raises(RuntimeError):
        await grouped(1)


async def test_leaving_with_a_call_in_flight_cancels_its_callers_instead_of_stranding_them() -> (
    None
):
    call = Recorder()
    async with Grouped(call, "test") as grouped:
        waiting = asyncio.create_task(grouped(2))
        await call.started.wait()

    with pytest.raises(asyncio.CancelledError):
        await waiting
