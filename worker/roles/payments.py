"""The payments role: `payments.updates` -> paid messages, `MessagePaid` on `messages.status`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from schemas.topics import ConsumerGroup, Topic
from worker import logs
from worker.adapters.payments_repo import PostgresPayments
from worker.adapters.postgres import is_retryable
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult
from worker.core.errors import RetryableError
from worker.core.records import Record
from worker.roles.common import make_runner, run_until_stopped
from worker.services import payments

log = logs.get("postino.payments")

#: How often the sweeper runs, and how far back it looks at kept payments.
SWEEP_INTERVAL_SECONDS = 30.0
SWEEP_LOOKBACK_SECONDS = 3600.0


def build(runtime: Runtime) -> ConsumerRunner:
    store = PostgresPayments(runtime.pool)
    kafka_settings = runtime.settings.kafka

    async def handle(records: Sequence[Record]) -> BatchResult:
        return await payments.reconcile_batch(records, store, kafka_settings)

    return make_runner(runtime, ConsumerGroup.PAYMENTS, [Topic.PAYMENTS], handle)


async def sweep_once(runtime: Runtime) -> int:
    store = PostgresPayments(runtime.pool)
    kafka_settings = runtime.settings.kafka
    return await payments.sweep(store, runtime.publisher, kafka_settings, SWEEP_LOOKBACK_SECONDS)


async def _sweeper(runtime: Runtime, halt: asyncio.Event) -> None:
    while not halt.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(halt.wait(), timeout=SWEEP_INTERVAL_SECONDS)
        if halt.is_set():
            return
        try:
            await sweep_once(runtime)
        except Exception as exc:
            if not (isinstance(exc, RetryableError) or is_retryable(exc)):
                raise
            log.warning("payments_sweep_failed", error=logs.safe_error_text(exc))


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    """The consumer, and beside it the sweeper that pays messages that missed a payment."""
    halt = asyncio.Event()  # the sweeper ends with the consumer, however it ends
    sweeper = asyncio.create_task(_sweeper(runtime, halt), name="payments-sweeper")
    try:
        await run_until_stopped(build(runtime), stop)
    finally:
        halt.set()
        await sweeper
