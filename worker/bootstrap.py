"""The composition root: the one place that chooses and builds the real adapters.

`open_runtime` opens what a process shares (database pool, Kafka producer, id
signer) and closes it in reverse order, whatever happens in between. Opening waits
for each of them (wait, don't die): while the database or the broker is unreachable
it retries with a capped backoff, one log line per attempt, and marks the process's
`Health` not ready for what it still waits for. The builders below turn a `Runtime`
into each role's dependencies and the ingress's stores; role modules and ingress
handlers never name an adapter, so tests build the same handlers on in-memory fakes
of the ports (`tests/fakes.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from schemas.topics import GROUP_TOPICS, ConsumerGroup
from worker import logs
from worker.adapters import kafka, postgres
from worker.adapters.backoffice_repo import BackOfficeRepo
from worker.adapters.catalogue_repo import PostgresCatalogue
from worker.adapters.citizen_repo import PostgresCitizens
from worker.adapters.console_repo import PostgresJournal
from worker.adapters.inbox import PostgresInbox
from worker.adapters.kafka import Publisher
from worker.adapters.lifecycle_repo import PostgresLifecycle
from worker.adapters.logos_repo import PostgresLogos
from worker.adapters.notices_repo import PostgresNotices
from worker.adapters.notifications_repo import PostgresNotifications
from worker.adapters.organizations_repo import PostgresOrganizations
from worker.adapters.pagopa_status import HttpPaymentStatus
from worker.adapters.payments_repo import PostgresPayments
from worker.adapters.postgres import Pool
from worker.adapters.profiles_repo import PostgresProfiles
from worker.adapters.push import HttpPushGateway
from worker.adapters.rc_configurations_repo import PostgresRCConfigurations
from worker.adapters.reminders_repo import AdvisoryLock, PostgresReminders
from worker.adapters.remote_content import HttpSenderClient
from worker.adapters.reports_repo import PostgresReports
from worker.adapters.sender_repo import PostgresSenderMessages
from worker.adapters.services_repo import ServicesRepo, UsageRepo
from worker.adapters.smtp import SmtpMailer
from worker.adapters.subscriptions_repo import PostgresSubscriptions
from worker.adapters.templates_repo import PostgresTemplates
from worker.adapters.upstream_admissions import PostgresAdmissions
from worker.adapters.webhook import HttpWebhookSender, PostgresCallbacks
from worker.consumers.runner import ConsumerRunner, DeadLetterHook
from worker.core.backoff import Backoff
from worker.core.batch import BatchHandler, due_from_header
from worker.core.errors import RetryableError
from worker.health import Health, Pulse
from worker.ids import IdSigner
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
    ConfigError,
    NotifySettings,
    ReminderSettings,
    Settings,
)

log = logs.get("postino.bootstrap")
T = TypeVar("T")

#: First and longest pause between two attempts to reach a dependency at start.
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 10.0


class Stopped(Exception):
    """Told to stop while still waiting for a dependency."""


@dataclass(slots=True)
class Runtime:
    settings: Settings
    pool: Pool
    publisher: Publisher
    bootstrap: str
    signer: IdSigner
    #: Heartbeats and readiness marks, reported by the ops listener.
    health: Health = field(default_factory=Health)
    #: Where this process's ops listener listens (None: it has none, as in tests).
    ops_port: int | None = None


def require_endpoints(settings: Settings) -> tuple[str, str]:
    if not settings.kafka.bootstrap:
        raise ConfigError("POSTINO_KAFKA_BOOTSTRAP is required (or run `postino dev`)")
    if not settings.database.url:
        raise ConfigError("POSTINO_DATABASE_URL is required (or run `postino dev`)")
    return settings.kafka.bootstrap, settings.database.url


def id_secret(settings: Settings) -> str:
    """The id-signing secret; in dev, generated once and kept under the data dir."""
    if settings.id_secret:
        return settings.id_secret
    if settings.profile != "dev":
        raise ConfigError("POSTINO_ID_SECRET is required in the production profile")
    path = Path(settings.data_dir) / "id-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def until_reachable(
    dependency: str,
    connect: Callable[[], Awaitable[T]],
    stop: asyncio.Event | None = None,
    health: Health | None = None,
    *,
    first_pause: float = FIRST_PAUSE_SECONDS,
    max_pause: float = MAX_PAUSE_SECONDS,
) -> T:
    """`connect()` until it stops raising `RetryableError`, pausing `first_pause` then
    twice as long each time up to `max_pause` (`Backoff`, jittered); one warning per
    failed attempt. Raises
    `Stopped` when `stop` is set meanwhile. While it waits, `health` has `dependency`
    marked not ready (so `/readyz` answers 503)."""
    attempt, backoff = 0, Backoff(first_pause, max_pause)
    while True:
        attempt += 1
        pause = backoff.next()
        try:
            result = await connect()
        except RetryableError as exc:
            if health is not None:
                health.not_ready(dependency, f"unreachable (attempt {attempt})")
            log.warning(
                "dependency_unreachable",
                dependency=dependency,
                attempt=attempt,
                retry_in_seconds=pause,
                error=logs.safe_error_text(exc, 200),
            )
        else:
            if health is not None:
                health.ready(dependency)
            if attempt > 1:
                log.info("dependency_reachable", dependency=dependency, attempts=attempt)
            return result
        if stop is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            if stop.is_set():
                raise Stopped(dependency)


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    role: str = "dev",
    health: Health | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Runtime]:
    """The pool, then the producer (client id `postino-<role>`), each waited for until
    reachable (or `Stopped`), `health` marked not ready meanwhile; closed in reverse
    order."""
    bootstrap, url = require_endpoints(settings)
    secret = id_secret(settings)
    logs.use_mask_secret(settings.log_mask_secret or secret)
    signer = IdSigner(secret)
    health = health or Health()
    db = settings.database

    async def connect_pool() -> Pool:
        return await postgres.create_pool(url, min_size=db.pool_min, max_size=db.pool_max)

    pool = await until_reachable("database", connect_pool, stop, health)
    try:
        await until_reachable("schema", lambda: postgres.require_schema(pool), stop, health)
        start_producer = functools.partial(kafka.start_producer, settings.kafka, bootstrap, role)
        producer = await until_reachable("broker", start_producer, stop, health)
        publisher = Publisher(producer, restart=start_producer)
        try:
            yield Runtime(settings, pool, publisher, bootstrap, signer, health)
        finally:
            await publisher.stop()
    finally:
        await pool.close()


def consumer_runner(
    runtime: Runtime,
    group: ConsumerGroup,
    handler: BatchHandler,
    *,
    scheduled: bool = False,
    on_dead_letters: DeadLetterHook | None = None,
    **consumer_overrides: Any,
) -> ConsumerRunner:
    """A runner for consumer group `group` over its topics (`GROUP_TOPICS`).
    `scheduled`: retry-tier records wait, partition by partition, until due."""
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


@dataclass(frozen=True, slots=True)
class IngressStores:
    """What the ingress handlers read and write, built once per app."""

    services: ServicesRepo
    usage: UsageRepo
    citizens: PostgresCitizens
    profiles: PostgresProfiles
    messages: PostgresSenderMessages
    backoffice: BackOfficeRepo
    organizations: PostgresOrganizations
    logos: PostgresLogos
    notices: PostgresNotices
    subscriptions: PostgresSubscriptions
    rc_configurations: PostgresRCConfigurations
    catalogue: PostgresCatalogue
    templates: PostgresTemplates
    reports: PostgresReports
    lifecycle: PostgresLifecycle


def ingress_stores(runtime: Runtime) -> IngressStores:
    pool = runtime.pool
    return IngressStores(
        ServicesRepo(pool),
        UsageRepo(pool),
        PostgresCitizens(pool),
        PostgresProfiles(pool),
        PostgresSenderMessages(pool),
        BackOfficeRepo(pool),
        PostgresOrganizations(pool),
        PostgresLogos(pool),
        PostgresNotices(pool),
        PostgresSubscriptions(pool),
        PostgresRCConfigurations(pool),
        PostgresCatalogue(pool),
        PostgresTemplates(pool),
        PostgresReports(pool),
        PostgresLifecycle(pool),
    )
