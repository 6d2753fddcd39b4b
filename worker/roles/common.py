"""Building blocks shared by the consumer roles."""

from __future__ import annotations

import asyncio

from worker.consumers.runner import ConsumerRunner


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
