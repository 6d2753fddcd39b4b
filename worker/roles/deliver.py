"""The deliver role: `messages.submitted` -> inbox, status events, notification requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from schemas.topics import ConsumerGroup
from worker.bootstrap import Runtime, consumer_runner, deliver_deps
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult, DeadLetter
from worker.core.records import OutRecord, Record
from worker.roles.common import run_until_stopped
from worker.services.deliver import DeliverDeps, deliver_batch, fail_dead_letters


def handler(deps: DeliverDeps) -> BatchHandler:
    async def handle(records: Sequence[Record]) -> BatchResult:
        return await deliver_batch(records, deps)

    return handle


def build(runtime: Runtime) -> ConsumerRunner:
    deps = deliver_deps(runtime)

    async def settle(dead: Sequence[DeadLetter]) -> list[OutRecord]:
        return await fail_dead_letters(dead, deps)

    return consumer_runner(runtime, ConsumerGroup.DELIVER, handler(deps), on_dead_letters=settle)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    await run_until_stopped(build(runtime), stop)
