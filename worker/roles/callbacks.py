"""The callbacks role: status events -> signed POSTs to the senders' webhooks.

Two consumers: `callbacks` reads `messages.status`, publishes each event's retry-tier
copy and starts its first attempt in the background (it never waits for a
receiver); `callbacks-retry` reads the retry tiers, each record waiting until due.
Settled events older than `max_age_seconds` are forgotten every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from schemas.topics import CALLBACK_RETRY_TIERS, ConsumerGroup, Topic
from worker import logs
from worker.adapters.webhook import HttpWebhookSender, PostgresCallbacks
from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchResult
from worker.core.records import Record
from worker.roles.common import run_until_stopped
from worker.roles.notify import scheduled_runner, utc_now
from worker.services.callbacks import CallbackDeps, FirstAttempts, first_attempts_batch, retry_batch

log = logs.get("postino.callbacks")

RETRY_TOPICS = tuple(tier for tier, _ in CALLBACK_RETRY_TIERS)
_PRUNE_EVERY_SECONDS = 3600.0


class CallbacksRole:
    """The two runners, the background first attempts and the sender they share."""

    def __init__(self, runtime: Runtime, clock: Callable[[], datetime] = utc_now) -> None:
        settings = runtime.settings
        cb = settings.callbacks
        self.store = PostgresCallbacks(runtime.pool)
        self.sender = HttpWebhookSender(cb.timeout_seconds, allow_loopback=cb.allow_loopback)
        self.deps = CallbackDeps(self.store, self.sender, settings.kafka, cb, clock)
        self.first_attempts = FirstAttempts(self.deps)

        async def handle_first(records: Sequence[Record]) -> BatchResult:
            return await first_attempts_batch(records, self.deps, self.first_attempts)

        async def handle_retry(records: Sequence[Record]) -> BatchResult:
            return await retry_batch(records, self.deps)

        self.main = scheduled_runner(runtime, ConsumerGroup.CALLBACKS, [Topic.STATUS], handle_first)
        self.retry = scheduled_runner(
            runtime, ConsumerGroup.CALLBACKS_RETRY, RETRY_TOPICS, handle_retry
        )

    @property
    def runners(self) -> tuple[ConsumerRunner, ConsumerRunner]:
        return self.main, self.retry

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.stop()
        await self.first_attempts.stop()
        await self.sender.stop()

    async def prune_forever(self, stop: asyncio.Event) -> None:
        max_age = timedelta(seconds=self.deps.settings.max_age_seconds)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=_PRUNE_EVERY_SECONDS)
            if stop.is_set():
                return
            try:
                pruned = await self.store.prune(utc_now() - max_age * 2)
                log.info("callback_deliveries_pruned", count=pruned)
            except Exception as exc:
                log.warning("callback_prune_failed", error=type(exc).__name__)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    role = CallbacksRole(runtime)
    try:
        await asyncio.gather(
            run_until_stopped(role.main, stop),
            run_until_stopped(role.retry, stop),
            role.prune_forever(stop),
        )
    finally:
        stop.set()
        await role.stop()
