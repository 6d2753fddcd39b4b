"""The payments role: `payments.updates` -> paid messages, `MessagePaid` on `messages.status`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from schemas.topics import Topic
from worker.adapters.payments_repo import PostgresPayments
from worker.bootstrap import Runtime
from worker.consumers.runner import BatchResult, ConsumerRunner
from worker.roles.common import make_runner, run_until_stopped
from worker.services.payments import reconcile_batch
from worker.services.ports import Record


def build(runtime: Runtime) -> ConsumerRunner:
    store = PostgresPayments(runtime.pool)
    kafka_settings = runtime.settings.kafka

    async def handle(records: Sequence[Record]) -> BatchResult:
        return await reconcile_batch(records, store, kafka_settings)

    return make_runner(runtime, "payments", [Topic.PAYMENTS], handle)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    await run_until_stopped(build(runtime), stop)
