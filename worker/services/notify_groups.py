"""Group calls: what callers ask for while the previous call is in flight goes in the next.

notify claims each send right before it and records each outcome right after it; with
`Grouped`, the claims (and the outcomes) that come due while one statement is in flight
go together in the next one, so a busy batch pays one round trip per group, not per
send, and a quiet one still gets its single claim or outcome written at once.

Each caller awaits its own answer: `__call__` returns once the call that carried its
item returned (or raises what that call raised for it), so an outcome is as durable
when `__call__` returns as with a call of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: One answer per item, in order: a result, or the error for that item alone.
GroupCall = Callable[[list[T]], Awaitable[list[R | BaseException]]]


class Grouped(Generic[T, R]):
    """`async with Grouped(call, name) as grouped: await grouped(item)`: one task runs
    the calls, one at a time; its context is the one `async with` ran in (so no
    caller's bound log context reaches it)."""

    def __init__(self, call: GroupCall[T, R], name: str) -> None:
        self._call = call
        self._name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Grouped[T, R]:
        self._task = asyncio.create_task(self._run(), name=self._name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()

    async def __call__(self, item: T) -> R:
        if self._task is None:
            raise RuntimeError(f"{self._name}: called outside its `async with`")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                group, self._queue = self._queue, []
                await self._answer(group)

    async def _answer(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            answers = await self._call([item for item, _ in group])
        except Exception as exc:  # the whole call failed: every item of it did
            answers = [exc] * len(group)
        except BaseException:  # cancelled mid-call: its callers are not left waiting
            for _, future in group:
                future.cancel()
            raise
        for (_, future), answer in zip(group, answers, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
