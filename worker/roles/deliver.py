"""The deliver role: `messages.submitted` -> inbox, status events, notification requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from schemas.topics import ConsumerGroup, Topic
from worker.adapters.inbox import PostgresInbox
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult
from worker.core.records import Record
from worker.roles.common import make_runner, run_until_stopped
from worker.services.deliver import DeliverDeps, deliver_batch


def build(runtime: Runtime) -> ConsumerRunner:
    deps = DeliverDeps(PostgresInbox(runtime.pool), runtime.settings.kafka, runtime.signer)

    async def handle(records: Sequence[Record]) -> BatchResult:
        return await deliver_batch(records, deps)

    return make_runner(runtime, ConsumerGroup.DELIVER, [Topic.SUBMITTED], handle)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    await run_until_stopped(build(runtime), stop)
