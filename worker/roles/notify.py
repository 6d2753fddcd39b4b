"""The notify role: notification requests and their retry tiers -> push and e-mail.

One consumer over `notifications.requested` and every retry tier (records wait in
their tier, paused per partition, until due), plus the sweeper every
`sweeper_interval_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from schemas.topics import NOTIFICATION_RETRY_TIERS, ConsumerGroup, Topic
from worker import logs
from worker.adapters import kafka
from worker.adapters.notifications_repo import PostgresNotifications
from worker.adapters.postgres import is_retryable
from worker.adapters.push import HttpPushGateway
from worker.adapters.smtp import SmtpMailer
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult, due_from_header
from worker.core.errors import RetryableError
from worker.core.records import Record
from worker.roles.common import run_until_stopped
from worker.services.notify import NotifyDeps, notify_batch
from worker.services.notify_ports import Channels
from worker.services.sweeper import SweepReport, sweep

log = logs.get("postino.notify")

TOPICS = (Topic.NOTIFICATIONS, *(tier for tier, _ in NOTIFICATION_RETRY_TIERS))


def utc_now() -> datetime:
    return datetime.now(UTC)


def scheduled_runner(
    runtime: Runtime, role: str, topics: Sequence[str], handler: BatchHandler
) -> ConsumerRunner:
    """A runner whose retry-tier records wait, partition by partition, until due."""
    ks = runtime.settings.kafka
    return ConsumerRunner(
        role=role,
        consumer=kafka.consumer(ks, runtime.bootstrap, ks.group(role)),
        topics=[ks.topic(t) for t in topics],
        handler=handler,
        publisher=runtime.publisher,
        direct=ks.assignment == "direct",
        due_at=due_from_header,
    )


def build(
    runtime: Runtime, channels: Channels, clock: Callable[[], datetime] = utc_now
) -> ConsumerRunner:
    settings = runtime.settings
    deps = NotifyDeps(
        PostgresNotifications(runtime.pool), channels, settings.kafka, settings.notify, clock
    )

    async def handle(records: Sequence[Record]) -> BatchResult:
        return await notify_batch(records, deps)

    return scheduled_runner(runtime, ConsumerGroup.NOTIFY, TOPICS, handle)


async def sweep_once(runtime: Runtime, now: datetime) -> SweepReport:
    settings = runtime.settings
    store = PostgresNotifications(runtime.pool)
    return await sweep(
        store=store,
        publisher=runtime.publisher,
        kafka=settings.kafka,
        settings=settings.notify,
        now=now,
    )


async def _sweep_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.notify.sweeper_interval_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        if stop.is_set():
            return
        try:
            await sweep_once(runtime, utc_now())
        except Exception as exc:
            if not (isinstance(exc, RetryableError) or is_retryable(exc)):
                raise
            log.warning("sweep_failed", error=logs.safe_error_text(exc))


def channels_from_settings(runtime: Runtime) -> tuple[Channels, HttpPushGateway | None]:
    notify = runtime.settings.notify
    push = (
        HttpPushGateway(notify.push_url, notify.push_timeout_seconds) if notify.push_url else None
    )
    mailer = SmtpMailer(notify) if notify.smtp_url else None
    if push is None or mailer is None:
        log.warning("notify_channel_missing", push=push is not None, email=mailer is not None)
    return Channels(push, mailer), push


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    channels, push = channels_from_settings(runtime)
    sweeper = asyncio.create_task(_sweep_forever(runtime, stop), name="notify-sweeper")
    try:
        await run_until_stopped(build(runtime, channels), stop)
    finally:
        stop.set()
        await asyncio.gather(sweeper, return_exceptions=True)
        if push is not None:
            await push.stop()
        if isinstance(channels.mailer, SmtpMailer):
            await channels.mailer.stop()  # QUIT on the kept SMTP connection
