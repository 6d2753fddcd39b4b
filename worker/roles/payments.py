"""The payments role: `payments.updates` -> paid messages, `MessagePaid` on `messages.status`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from schemas.topics import ConsumerGroup
from worker.bootstrap import Runtime, consumer_runner, payment_store, timer_pulse
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult
from worker.core.records import Record
from worker.periodic import every
from worker.roles.common import run_until_stopped
from worker.services import payments

#: How often the sweeper runs, and how far back it looks at kept payments.
SWEEP_INTERVAL_SECONDS = 30.0
SWEEP_LOOKBACK_SECONDS = 3600.0


def build(runtime: Runtime) -> ConsumerRunner:
    store, topics = payment_store(runtime), runtime.settings.kafka.topics

    async def handle(records: Sequence[Record]) -> BatchResult:
        return await payments.reconcile_batch(records, store, topics)

    return consumer_runner(runtime, ConsumerGroup.PAYMENTS, handle)


async def sweep_once(runtime: Runtime) -> int:
    topics = runtime.settings.kafka.topics
    return await payments.sweep(
        payment_store(runtime), runtime.publisher, topics, SWEEP_LOOKBACK_SECONDS
    )


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """The consumer, and beside it the sweeper that pays messages that missed a payment."""
    halt = asyncio.Event()  # the sweeper ends with the consumer, however it ends
    sweeper = asyncio.create_task(
        every(
            SWEEP_INTERVAL_SECONDS,
            halt,
            lambda: sweep_once(runtime),
            name="payments-sweep",
            pulse=timer_pulse(runtime, "payments-sweeper", SWEEP_INTERVAL_SECONDS),
        ),
        name="payments-sweeper",
    )
    try:
        await run_until_stopped(build(runtime), stop)
    finally:
        halt.set()
        await sweeper
