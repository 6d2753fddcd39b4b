"""The notify role: notification requests and their retry tiers -> push and e-mail.

One consumer over `notifications.requested` and every retry tier (records wait in
their tier, paused per partition, until due), plus the sweeper every
`sweeper_interval_seconds`.

Claims are owned by `notify@<POSTINO_INSTANCE_ID>`. At start, when no other live
process holds that name (a PostgreSQL advisory lock on it, held while the process
lives), the leases a previous life of this instance left are ended and swept at
once: a restarted notify re-drives its own stranded sends immediately instead of
after the lease.
"""

from __future__ import annotations

import asyncio
import secrets
import zlib
from collections.abc import Sequence
from datetime import datetime

from schemas.topics import ConsumerGroup
from worker import logs
from worker.adapters.reminders_repo import AdvisoryLock
from worker.bootstrap import (
    Runtime,
    attempt_journal,
    consumer_runner,
    leader_lock,
    notification_store,
    notify_channels,
    timer_pulse,
)
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult
from worker.core.errors import RetryableError
from worker.core.records import Record
from worker.periodic import every
from worker.roles.common import run_until_stopped
from worker.services.attempts import AttemptJournal, NoJournal
from worker.services.clock import Clock, utc_now
from worker.services.notify import NotifyDeps, notify_batch
from worker.services.notify_ports import Channels
from worker.services.sweeper import SweepReport, sweep

log = logs.get("postino.notify")


def handler(deps: NotifyDeps) -> BatchHandler:
    async def handle(records: Sequence[Record]) -> BatchResult:
        return await notify_batch(records, deps)

    return handle


def owner_name(runtime: Runtime) -> str:
    return f"notify@{runtime.settings.instance_id}"


def build(
    runtime: Runtime,
    channels: Channels,
    clock: Clock = utc_now,
    journal: AttemptJournal | None = None,
    owner: str | None = None,
) -> ConsumerRunner:
    settings = runtime.settings
    deps = NotifyDeps(
        notification_store(runtime),
        channels,
        settings.kafka.topics,
        settings.notify,
        clock,
        journal or NoJournal(),
        owner or owner_name(runtime),
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


def instance_key(owner: str) -> int:
    """The advisory lock key of an instance name."""
    return zlib.crc32(f"postino-instance:{owner}".encode())


async def take_over(runtime: Runtime) -> tuple[str, AdvisoryLock]:
    """The owner name this process claims under, and the lock that proves it (release it
    at stop). Holding the instance's name, it ends the leases a previous life of the
    instance left (the first sweep re-drives them); when another live process holds
    the name, a unique suffix keeps the two apart and nothing is taken over."""
    name = owner_name(runtime)
    lock = leader_lock(runtime, instance_key(name))
    if not await lock.try_acquire():
        await lock.release()
        owner = f"{name}#{secrets.token_hex(4)}"
        log.warning("notify_instance_in_use", instance=name, owner=owner)
        return owner, lock
    ended = await notification_store(runtime).expire_leases(name, utc_now())
    if ended:
        log.info("notify_claims_recovered", owner=name, count=ended)
    return name, lock


async def _first_sweep(runtime: Runtime) -> None:
    """What a previous life left, at once (the periodic sweeps start one interval on)."""
    try:
        await sweep_once(runtime, utc_now())
    except RetryableError as exc:
        log.warning("sweep_failed", error=logs.safe_error_text(exc))


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.notify.sweeper_interval_seconds
    owner, lock = await take_over(runtime)
    try:
        async with (
            notify_channels(runtime.settings.notify) as channels,
            attempt_journal(runtime) as journal,
        ):
            await _first_sweep(runtime)
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
                await run_until_stopped(
                    build(runtime, channels, journal=journal, owner=owner), stop
                )
            finally:
                stop.set()
                await sweeper
    finally:
        await lock.release()
