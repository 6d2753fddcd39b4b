"""Building blocks shared by the consumer roles."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from worker.adapters import kafka
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler


def make_runner(
    runtime: Runtime,
    role: str,
    topics: Sequence[str],
    handler: BatchHandler,
    **consumer_overrides: object,
) -> ConsumerRunner:
    """A runner for `role` over base topic names (the prefix is applied here)."""
    ks = runtime.settings.kafka
    return ConsumerRunner(
        role=role,
        consumer=kafka.consumer(ks, runtime.bootstrap, ks.group(role), **consumer_overrides),
        topics=[ks.topic(t) for t in topics],
        handler=handler,
        publisher=runtime.publisher,
        direct=ks.assignment == "direct",
    )


async def run_until_stopped(runner: ConsumerRunner, stop: asyncio.Event) -> None:
    """Run the consumer; on `stop`, finish the batch in hand, commit, close."""
    task = asyncio.create_task(runner.run(), name=f"consumer-{runner.role}")
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        runner.request_stop()
        await task
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.stop()
