"""Group commit: what callers ask for while a call is in flight goes together in the next.

notify claims each send right before it and records each outcome right after it;
callbacks settle each event as its attempt ends. With `GroupCommit`, the items that
come due while one statement is in flight go together in the next statement, so a busy
batch pays one round trip per group, not per item, and a quiet one still gets its lone
item written at once (no timer).

Each caller awaits its own answer: `await group(item)` returns once the call that
carried `item` returned, with that call's answer for it (or raises the error the call
gave for it, or the error of the whole call), so what it wrote is as durable when the
await returns as with a call of its own.

The calls run one at a time in a task of their own, started when an item arrives and
ended when none is left; it runs in an empty context, so no caller's bound log
context (one message's ids) is attached to a statement carrying many. A caller that is
cancelled while it waits does not stop the call carrying its item; if that task itself
is cancelled (the loop is closing), its waiting callers are cancelled, never stranded.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: One answer per item, in order: a result, or the error for that item alone.
GroupCall = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    """`await group(item)`: `item` goes in the next call of `call`, with every item that
    arrived meanwhile; `name` names the task that runs the calls."""

    def __init__(self, call: GroupCall[T, R], name: str) -> None:
        self._call = call
        self._name = name
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        if self._writer is None:
            self._writer = loop.create_task(
                self._drain(), name=self._name, context=contextvars.Context()
            )
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue, []
                await self._answer(group)
        finally:
            self._writer = None
            for _, future in self._queue:  # only when cancelled: nobody will call for them
                future.cancel()
            self._queue.clear()

    async def _answer(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            answers: Sequence[R | BaseException] = await self._call([item for item, _ in group])
        except Exception as exc:  # the whole call failed: every item of it did
            answers = [exc] * len(group)
        except BaseException:  # cancelled mid-call: its callers are not left waiting
            for _, future in group:
                future.cancel()
            raise
        if len(answers) != len(group):
            error = RuntimeError(f"{self._name}: {len(answers)} answers for {len(group)} items")
            answers = [error] * len(group)
        for (_, future), answer in zip(group, answers, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
