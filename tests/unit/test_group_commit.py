"""Group commit (`GroupCommit`): what arrives while a call is in flight goes together in
the next call, each caller gets its own answer once the call carrying its item returned,
and no caller is stranded or lends its log context to a call carrying others."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from worker.core.group_commit import GroupCommit

_BOUND: contextvars.ContextVar[str] = contextvars.ContextVar("bound", default="none")


class Recorder:
    """A group call that holds until released, answering each item (or its error)."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.contexts: list[str] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.failure: Exception | None = None

    async def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.calls.append(items)
        self.contexts.append(_BOUND.get())
        self.started.set()
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def in_flight_and_queued(
    call: Recorder, first: int, second: int
) -> tuple[GroupCommit[int, int], asyncio.Task[int], asyncio.Task[int]]:
    """`first` on its way alone (its call held by `call`), then `second` queued."""
    group: GroupCommit[int, int] = GroupCommit(call, "test")
    in_flight = asyncio.create_task(group(first))
    await call.started.wait()
    queued = asyncio.create_task(group(second))
    await asyncio.sleep(0)
    return group, in_flight, queued


async def test_a_lone_item_is_called_at_once() -> None:
    call = Recorder()
    call.release.set()
    assert await GroupCommit(call, "test")(4) == 40
    assert call.calls == [[4]]


async def test_items_that_come_while_a_call_is_in_flight_go_together_in_the_next() -> None:
    call = Recorder()
    group = GroupCommit(call, "test")
    first = asyncio.create_task(group(0))
    await call.started.wait()  # the first item is on its way alone
    later = [asyncio.create_task(group(i)) for i in (2, 4, 6)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in later)  # each waits for its own answer
    call.release.set()
    assert await asyncio.gather(first, *later) == [0, 20, 40, 60]
    assert call.calls == [[0], [2, 4, 6]]


async def test_an_items_error_reaches_its_caller_alone() -> None:
    call = Recorder()
    call.release.set()
    group = GroupCommit(call, "test")
    answers = await asyncio.gather(group(1), group(2), return_exceptions=True)
    assert isinstance(answers[0], ValueError) and answers[1] == 20


async def test_a_failed_call_fails_each_of_its_items_and_the_next_call_goes_ahead() -> None:
    call = Recorder()
    call.failure = RuntimeError("database gone")
    call.release.set()
    group = GroupCommit(call, "test")
    answers = await asyncio.gather(group(2), group(4), return_exceptions=True)
    assert all(isinstance(a, RuntimeError) for a in answers)
    call.failure = None
    assert await group(6) == 60


async def test_a_call_answering_the_wrong_number_of_items_fails_them_all() -> None:
    async def short(items: list[int]) -> list[int | BaseException]:
        return items[:-1]

    group: GroupCommit[int, int] = GroupCommit(short, "test")
    answers = await asyncio.gather(group(1), group(2), return_exceptions=True)
    assert all(isinstance(a, RuntimeError) for a in answers)


async def test_a_cancelled_caller_does_not_stop_the_call_carrying_its_item() -> None:
    call = Recorder()
    _, leaving, staying = await in_flight_and_queued(call, 2, 4)
    leaving.cancel()
    call.release.set()
    assert await staying == 40
    assert call.calls == [[2], [4]]


async def test_a_call_cancelled_mid_flight_cancels_its_callers_instead_of_stranding_them() -> None:
    call = Recorder()
    group, in_flight, queued = await in_flight_and_queued(call, 2, 4)
    writer = next(t for t in asyncio.all_tasks() if t.get_name() == "test")
    writer.cancel()
    for task in (in_flight, queued):
        with pytest.raises(asyncio.CancelledError):
            await task
    call.release.set()
    assert await group(6) == 60  # a new call starts for the next item


async def test_the_call_runs_without_any_callers_context() -> None:
    call = Recorder()
    call.release.set()
    group = GroupCommit(call, "test")
    _BOUND.set("message-1")
    assert await group(2) == 20
    assert call.contexts == ["none"]
