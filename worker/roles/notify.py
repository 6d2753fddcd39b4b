"""The notify role: notification requests and their retry tiers -> push and e-mail.

One consumer over `notifications.requested` and every retry tier (records wait in
their tier, paused per partition, until due), plus the sweeper every
`sweeper_interval_seconds`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from schemas.topics import ConsumerGroup
from worker.bootstrap import (
    Runtime,
    attempt_journal,
    consumer_runner,
    notification_store,
    notify_channels,
    timer_pulse,
)
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult
from worker.core.records import Record
from worker.periodic import every
from worker.roles.common import run_until_stopped
from worker.services.attempts import AttemptJournal, NoJournal
from worker.services.notify import NotifyDeps, notify_batch
from worker.services.notify_ports import Channels
from worker.services.sweeper import SweepReport, sweep


def utc_now() -> datetime:
    return datetime.now(UTC)


def handler(deps: NotifyDeps) -> BatchHandler:
    async def handle(records: Sequence[Record]) -> BatchResult:
        return await notify_batch(records, deps)

    return handle


def build(
    runtime: Runtime,
    channels: Channels,
    clock: Callable[[], datetime] = utc_now,
    journal: AttemptJournal | None = None,
) -> ConsumerRunner:
    settings = runtime.settings
    deps = NotifyDeps(
        notification_store(runtime),
        channels,
        settings.kafka.topics,
        settings.notify,
        clock,
        journal or NoJournal(),
    )
    return consumer_runner(runtime, ConsumerGroup.NOTIFY, handler(deps), scheduled=True)


async def sweep_once(runtime: Runtime, now: datetime) -> SweepReport:
    settings = runtime.settings
    return await sweep(
        store=notification_store(runtime),
        publisher=runtime.publisher,
        topics=settings.kafka.topics,
        settings=settings.notify,
        now=now,
    )


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.notify.sweeper_interval_seconds
    async with (
        notify_channels(runtime.settings.notify) as channels,
        attempt_journal(runtime) as journal,
    ):
        sweeper = asyncio.create_task(
            every(
                interval,
                stop,
                lambda: sweep_once(runtime, utc_now()),
                name="notify-sweep",
                pulse=timer_pulse(runtime, "notify-sweeper", interval),
            ),
            name="notify-sweeper",
        )
        try:
            await run_until_stopped(build(runtime, channels, journal=journal), stop)
        finally:
            stop.set()
            await sweeper
