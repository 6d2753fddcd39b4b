"""What each role runs on: its consumer runner, stores, channels and HTTP clients,
built from a `Runtime`. Role modules never name an adapter; they call these."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from schemas.topics import GROUP_TOPICS, ConsumerGroup
from worker import logs
from worker.adapters import kafka
from worker.adapters.backoffice_repo import BackOfficeRepo
from worker.adapters.console_repo import PostgresJournal
from worker.adapters.inbox import PostgresInbox
from worker.adapters.lifecycle_repo import PostgresLifecycle
from worker.adapters.notices_repo import PostgresNotices
from worker.adapters.notifications_repo import PostgresNotifications
from worker.adapters.pagopa_status import HttpPaymentStatus
from worker.adapters.payments_repo import PostgresPayments
from worker.adapters.push import HttpPushGateway
from worker.adapters.reminders_repo import AdvisoryLock, PostgresReminders
from worker.adapters.remote_content import HttpSenderClient
from worker.adapters.reports_repo import PostgresReports
from worker.adapters.smtp import SmtpMailer
from worker.adapters.upstream_admissions import PostgresAdmissions
from worker.adapters.webhook import HttpWebhookSender, PostgresCallbacks
from worker.bootstrap.runtime import Runtime, require_endpoints
from worker.consumers.commits import CommitBound
from worker.consumers.runner import ConsumerRunner, DeadLetterHook
from worker.core.batch import BatchHandler, due_from_header
from worker.health import Pulse
from worker.services.attempts import AttemptJournal
from worker.services.callback_send import CallbackStore, WebhookSender
from worker.services.deliver import DeliverDeps
from worker.services.notice_outbox import NoticeStores
from worker.services.notify_ports import Channels, Mailer
from worker.services.payment_status import NoLookup, PaymentStatusLookup
from worker.services.payments import PaymentStore
from worker.services.reminders import ReminderStore
from worker.services.remote_content import SenderClient
from worker.settings import (
    CallbackSettings,
    NotifySettings,
    ReminderSettings,
    Settings,
)

log = logs.get("postino.bootstrap")


def consumer_runner(
    runtime: Runtime,
    group: ConsumerGroup,
    handler: BatchHandler,
    *,
    scheduled: bool = False,
    on_dead_letters: DeadLetterHook | None = None,
    commit_bound: CommitBound | None = None,
    **consumer_overrides: Any,
) -> ConsumerRunner:
    """A runner for consumer group `group` over its topics (`GROUP_TOPICS`).
    `scheduled`: retry-tier records wait, partition by partition, until due.
    `commit_bound`: offsets are committed only below the handler's held records."""
    ks = runtime.settings.kafka
    return ConsumerRunner(
        role=group,
        consumer=kafka.consumer(ks, runtime.bootstrap, ks.group(group), **consumer_overrides),
        topics=[ks.topics.name(t) for t in GROUP_TOPICS[group]],
        handler=handler,
        publisher=runtime.publisher,
        direct=ks.assignment == "direct",
        due_at=due_from_header if scheduled else None,
        resume_slack=ks.retry_resume_slack_ms / 1000,
        linger=ks.consumer_linger_ms / 1000,
        on_dead_letters=on_dead_letters,
        commit_bound=commit_bound,
        commit_interval=ks.commit_interval_ms / 1000,
        pulse=runtime.health.pulse(f"consumer.{group}", runtime.settings.ops.liveness_seconds),
    )


def tier_fetch_wait_ms(base_ms: int, delays: tuple[float, ...]) -> int:
    """A consumer of retry tiers alone waits longer per fetch: a tenth of the shortest
    delay, at most Kafka's 500 ms, never less than the base. On Apache Kafka (base 500)
    that is the base. On Tansu in memory, which does not wake a waiting fetch (base
    20), an idle tier then costs it a fetch per 500 ms instead of one per 20 ms, and a
    retry is late by at most that."""
    return max(base_ms, min(500, int(min(delays, default=0) * 100)))


def timer_pulse(runtime: Runtime, name: str, interval: float) -> Pulse:
    """A timer sleeps its interval: it is stalled when silent past interval + liveness."""
    return runtime.health.pulse(f"timer.{name}", interval + runtime.settings.ops.liveness_seconds)


def deliver_deps(runtime: Runtime) -> DeliverDeps:
    return DeliverDeps(
        PostgresInbox(runtime.pool),
        runtime.settings.kafka.topics,
        runtime.signer,
        admissions=PostgresAdmissions(runtime.pool),
        limits=runtime.settings.limits,
    )


def payment_store(runtime: Runtime) -> PaymentStore:
    return PostgresPayments(runtime.pool)


def notification_store(runtime: Runtime) -> PostgresNotifications:
    """Both the notify store and the sweeper's."""
    return PostgresNotifications(runtime.pool)


def reminder_store(runtime: Runtime) -> ReminderStore:
    return PostgresReminders(runtime.pool)


def retention_store(runtime: Runtime) -> PostgresLifecycle:
    return PostgresLifecycle(runtime.pool)


def reports_store(runtime: Runtime) -> PostgresReports:
    return PostgresReports(runtime.pool)


def leader_lock(runtime: Runtime, key: int) -> AdvisoryLock:
    """A session advisory lock on a connection of its own (not one of the pool's)."""
    _, url = require_endpoints(runtime.settings)
    return AdvisoryLock(url, key)


def callback_store(runtime: Runtime) -> CallbackStore:
    return PostgresCallbacks(runtime.pool)


@asynccontextmanager
async def attempt_journal(runtime: Runtime) -> AsyncIterator[AttemptJournal]:
    """The attempts journal of notify and callbacks; what it queued is written on exit."""
    journal = PostgresJournal(runtime.pool)
    try:
        yield journal
    finally:
        await journal.close()


@asynccontextmanager
async def notify_channels(settings: NotifySettings) -> AsyncIterator[Channels]:
    """The configured push gateway and mailer; a missing one is None (its notifications
    wait in the retry tiers, see `worker.services.notify_send`)."""
    push = (
        HttpPushGateway(settings.push_url, settings.push_timeout_seconds)
        if settings.push_url
        else None
    )
    mailer = SmtpMailer(settings) if settings.smtp_url else None
    if push is None or mailer is None:
        log.warning("notify_channel_missing", push=push is not None, email=mailer is not None)
    try:
        yield Channels(push, mailer)
    finally:
        if push is not None:
            await push.stop()
        if mailer is not None:
            await mailer.stop()  # QUIT on the process's kept SMTP connection


def notice_stores(runtime: Runtime) -> NoticeStores:
    notices = PostgresNotices(runtime.pool)
    return NoticeStores(notices, BackOfficeRepo(runtime.pool), notices)


@asynccontextmanager
async def notice_mailer(settings: NotifySettings) -> AsyncIterator[Mailer | None]:
    """The mailer of the notices to public bodies (None without `POSTINO_SMTP_URL`)."""
    mailer = SmtpMailer(settings) if settings.smtp_url else None
    try:
        yield mailer
    finally:
        if mailer is not None:
            await mailer.stop()


@asynccontextmanager
async def payment_status(settings: ReminderSettings) -> AsyncIterator[PaymentStatusLookup]:
    """pagoPA's notice lookup when `payment_status_url` is set; else one that knows
    nothing (payment reminders go as they would without it)."""
    if settings.payment_status_url is None:
        yield NoLookup()
        return
    lookup = HttpPaymentStatus(
        settings.payment_status_url,
        settings.payment_status_key,
        settings.payment_status_timeout_seconds,
    )
    try:
        yield lookup
    finally:
        await lookup.stop()


@asynccontextmanager
async def sender_client(settings: Settings) -> AsyncIterator[SenderClient]:
    """The client that fetches remote content from senders (SSRF rules of callbacks)."""
    client = HttpSenderClient(
        settings.remote_content,
        allow_loopback=settings.callbacks.allow_loopback,
        allowed_ports=settings.callbacks.allowed_ports,
    )
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def webhook_sender(settings: CallbackSettings) -> AsyncIterator[WebhookSender]:
    sender = HttpWebhookSender(
        settings.timeout_seconds,
        allow_loopback=settings.allow_loopback,
        allowed_ports=settings.allowed_ports,
        dns_cache_seconds=settings.dns_cache_seconds,
    )
    try:
        yield sender
    finally:
        await sender.stop()
