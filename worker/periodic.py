"""Every N seconds until told to stop: the one periodic-task loop, with one failure policy.

A failed run is logged (`periodic_task_failed`, with the task's name and whether the
failure was a `RetryableError`) and the next run comes at the next tick: a sweeper, a
refresh or a flush never takes its process down, and never stops for good while the
process lives. Stopping waits for the run in hand to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from worker import logs
from worker.core.errors import RetryableError
from worker.health import Pulse

log = logs.get("postino.periodic")


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds` or until `stop`; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


async def every(
    seconds: float,
    stop: asyncio.Event,
    task: Callable[[], Awaitable[object]],
    *,
    name: str,
    pulse: Pulse | None = None,
) -> None:
    """Run `task` every `seconds` (the first run after one interval) until `stop`.
    `pulse` beats each time round (liveness: a run that hangs stalls it)."""
    if pulse is not None:
        pulse.beat()
    while not await pause(stop, seconds):
        try:
            await task()
        except Exception as exc:
            log.warning(
                "periodic_task_failed",
                task=name,
                retryable=isinstance(exc, RetryableError),
                error=f"{type(exc).__name__}: {logs.safe_error_text(exc)}",
            )
        if pulse is not None:
            pulse.beat()
    if pulse is not None:
        pulse.end()


@contextlib.asynccontextmanager
async def running_every(
    seconds: float, task: Callable[[], Awaitable[object]], *, name: str, pulse: Pulse | None = None
) -> AsyncIterator[None]:
    """`every` in the background for the duration of the block (ingress cleanup contexts)."""
    stop = asyncio.Event()
    runner = asyncio.create_task(every(seconds, stop, task, name=name, pulse=pulse), name=name)
    try:
        yield
    finally:
        stop.set()
        await runner
