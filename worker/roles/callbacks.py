"""The callbacks role: status events -> signed POSTs to the senders' webhooks.

Two consumers: `callbacks` reads `messages.status` and starts each event's first
attempt in the background (it never waits for a receiver); its offsets are committed
only below the events whose attempt is neither settled nor copied to a retry tier
(`FirstAttempts.commit_bound`). `callbacks-retry` reads the retry tiers, each record
waiting until due.
Settled events older than `max_age_seconds` are forgotten every hour. Every
`NOTICES_EVERY_SECONDS` the outcomes counted per service are merged into the
database and the notices to public bodies are queued and sent (`notice_outbox`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from schemas.topics import ConsumerGroup
from worker import logs
from worker.bootstrap import (
    Runtime,
    attempt_journal,
    callback_store,
    consumer_runner,
    notice_mailer,
    notice_stores,
    tier_fetch_wait_ms,
    webhook_sender,
)
from worker.consumers.runner import ConsumerRunner
from worker.core.batch import BatchHandler, BatchResult
from worker.core.records import Record
from worker.periodic import every
from worker.roles.common import run_until_stopped
from worker.services.attempts import AttemptJournal, NoJournal
from worker.services.callback_pool import FirstAttempts
from worker.services.callback_send import CallbackDeps, WebhookSender
from worker.services.callbacks import first_attempts_batch, retry_batch
from worker.services.clock import Clock, utc_now
from worker.services.notice_outbox import notices_round
from worker.services.notify_ports import Mailer

log = logs.get("postino.callbacks")

_PRUNE_EVERY_SECONDS = 3600.0
#: How often callback outcomes are merged, notices to bodies queued and sent.
NOTICES_EVERY_SECONDS = 30.0


class CallbacksRole:
    """The two runners, the background first attempts and the sender they share."""

    def __init__(
        self,
        runtime: Runtime,
        sender: WebhookSender,
        clock: Clock = utc_now,
        journal: AttemptJournal | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        settings = runtime.settings
        self.notice_stores = notice_stores(runtime)
        self.mailer = mailer
        self.deps = CallbackDeps(
            callback_store(runtime),
            sender,
            settings.kafka.topics,
            settings.callbacks,
            clock,
            journal or NoJournal(),
        )
        self.first_attempts = FirstAttempts(self.deps, runtime.publisher)
        handle_first, handle_retry = handlers(self.deps, self.first_attempts)
        self.main = consumer_runner(
            runtime,
            ConsumerGroup.CALLBACKS,
            handle_first,
            scheduled=True,
            commit_bound=self.first_attempts.commit_bound,
        )
        self.retry = consumer_runner(
            runtime,
            ConsumerGroup.CALLBACKS_RETRY,
            handle_retry,
            scheduled=True,
            # Retry tiers alone: a longer wait per fetch (see `tier_fetch_wait_ms`).
            fetch_max_wait_ms=tier_fetch_wait_ms(
                settings.kafka.fetch_wait_ms, settings.callbacks.retry_delays
            ),
        )

    @property
    def runners(self) -> tuple[ConsumerRunner, ConsumerRunner]:
        return self.main, self.retry

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.stop()
        await self.first_attempts.stop()

    async def notices(self) -> None:
        """Merge the callback outcomes counted here; queue and send notices to bodies."""
        await notices_round(self.deps.health, self.notice_stores, self.mailer, self.deps.clock())

    async def prune(self) -> None:
        max_age = timedelta(seconds=self.deps.settings.max_age_seconds)
        pruned = await self.deps.store.prune(self.deps.clock() - max_age * 2)
        log.info("callback_deliveries_pruned", count=pruned)


def handlers(
    deps: CallbackDeps, first_attempts: FirstAttempts
) -> tuple[BatchHandler, BatchHandler]:
    """The handlers of `messages.status` (first attempts) and of the retry tiers."""

    async def handle_first(records: Sequence[Record]) -> BatchResult:
        return await first_attempts_batch(records, deps, first_attempts)

    async def handle_retry(records: Sequence[Record]) -> BatchResult:
        return await retry_batch(records, deps, first_attempts)

    return handle_first, handle_retry


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    async with (
        webhook_sender(runtime.settings.callbacks) as sender,
        attempt_journal(runtime) as journal,
        notice_mailer(runtime.settings.notify) as mailer,
    ):
        role = CallbacksRole(runtime, sender, journal=journal, mailer=mailer)
        try:
            await asyncio.gather(
                run_until_stopped(role.main, stop),
                run_until_stopped(role.retry, stop),
                every(_PRUNE_EVERY_SECONDS, stop, role.prune, name="callbacks-prune"),
                every(NOTICES_EVERY_SECONDS, stop, role.notices, name="body-notices"),
            )
        finally:
            stop.set()
            await role.stop()
