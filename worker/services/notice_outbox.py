"""Sending the queued notices, and the periodic checks that queue the callback ones.

Sending: due notices are claimed with a short lease (two senders never send one
notice), each e-mail's outcome recorded right after its send: sent, retried later
with a growing delay on a transient failure, failed for good on a permanent one or
after `MAX_ATTEMPTS`. A notice without any recipient is kept as `no_recipient`.

Callback health: the callbacks processes count outcomes in memory
(`CallbackHealth`) and merge them into the database once per flush; the check then
finds, in one statement, the services whose callbacks started failing at least
`FAILING_AFTER_SECONDS` ago (and were not yet reported) or have recovered since a
report, and queues the matching notices. No query per event, at any rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from worker import logs
from worker.core.errors import PermanentError
from worker.services import notices
from worker.services.backoffice_model import NoticeDraft, ServiceRecord
from worker.services.callback_health import CallbackHealth, HealthCounts
from worker.services.notify_ports import Mailer

log = logs.get("postino.notices")

MAX_ATTEMPTS = 8
LEASE_SECONDS = 120.0
BATCH = 50


@dataclass(frozen=True, slots=True)
class PendingNotice:
    id: str
    service_id: str
    kind: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    attempts: int


@dataclass(frozen=True, slots=True)
class HealthFlip:
    """A service whose callback health changed side: now `alerted` (failing since
    `failing_since`) or not (recovered)."""

    service_id: str
    alerted: bool
    failing_since: datetime | None


class NoticeStore(Protocol):
    async def queue(self, drafts: Sequence[NoticeDraft]) -> list[str]:
        """Queue each draft whose gate is open (with its history entry); the kinds queued."""
        ...

    async def claim(
        self, now: datetime, limit: int, lease_seconds: float
    ) -> list[PendingNotice]: ...

    async def mark(
        self,
        notice_id: str,
        status: str,
        at: datetime,
        error: str | None,
        retry_at: datetime | None,
    ) -> None: ...


class HealthStore(Protocol):
    async def merge(self, counts: Sequence[HealthCounts]) -> None: ...

    async def flips(self, failing_before: datetime) -> list[HealthFlip]: ...


class ServiceLookup(Protocol):
    async def get(self, service_id: str) -> ServiceRecord | None: ...

    async def organization_email(self, fiscal_code: str) -> str | None: ...


def _retry_at(now: datetime, attempts: int) -> datetime:
    return now + timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


async def send_one(store: NoticeStore, mailer: Mailer, notice: PendingNotice, now: datetime) -> str:
    """Send one notice to each recipient; record and return its outcome."""
    if not notice.recipients:
        await store.mark(notice.id, "no_recipient", now, None, None)
        log.warning("notice_without_recipient", service_id=notice.service_id, kind=notice.kind)
        return "no_recipient"
    attempts = notice.attempts + 1
    try:
        for n, to in enumerate(notice.recipients):
            await mailer.send(to, notice.subject, notice.body, key=f"{notice.id}.{n}")
    except Exception as exc:
        final = isinstance(exc, PermanentError) or attempts >= MAX_ATTEMPTS
        status = "failed" if final else "pending"
        retry = None if final else _retry_at(now, attempts)
        await store.mark(notice.id, status, now, logs.safe_error_text(exc, 200), retry)
        log.warning(
            "notice_send_failed",
            service_id=notice.service_id,
            kind=notice.kind,
            attempt=attempts,
            final=final,
            error=logs.safe_error_text(exc, 200),
        )
        return status
    await store.mark(notice.id, "sent", now, None, None)
    log.info("notice_sent", service_id=notice.service_id, kind=notice.kind, attempt=attempts)
    return "sent"


async def send_due(store: NoticeStore, mailer: Mailer, now: datetime) -> int:
    """Send the notices due at `now` (one batch); how many were claimed."""
    claimed = await store.claim(now, BATCH, LEASE_SECONDS)
    for notice in claimed:
        await send_one(store, mailer, notice, now)
    return len(claimed)


async def check_callbacks(
    health: HealthStore, services: ServiceLookup, outbox: NoticeStore, now: datetime
) -> list[str]:
    """Queue the notices of services whose callbacks failed for 15 minutes or recovered."""
    failing_before = now - timedelta(seconds=notices.FAILING_AFTER_SECONDS)
    drafts: list[NoticeDraft] = []
    for flip in await health.flips(failing_before):
        service = await services.get(flip.service_id)
        if service is None:
            continue
        body = await services.organization_email(service.organization_fiscal_code)
        contacts = notices.Contacts(service.email, body)
        if flip.alerted and flip.failing_since is not None:
            drafts.append(notices.callbacks_failing(service, flip.failing_since, contacts, now))
        elif not flip.alerted:
            drafts.append(notices.callbacks_recovered(service, contacts, now))
    return await outbox.queue(drafts) if drafts else []


@dataclass(frozen=True, slots=True)
class NoticeStores:
    health: HealthStore
    services: ServiceLookup
    outbox: NoticeStore


async def notices_round(
    counted: CallbackHealth, stores: NoticeStores, mailer: Mailer | None, now: datetime
) -> None:
    """One round of the callbacks role's notices job: merge the callback outcomes
    counted since the last round, queue the notices they call for, send what is due
    (nothing without a mailer: the notices wait for one)."""
    counts = counted.take()
    try:
        await stores.health.merge(counts)
    except BaseException:
        counted.put_back(counts)
        raise
    await check_callbacks(stores.health, stores.services, stores.outbox, now)
    if mailer is not None:
        await send_due(stores.outbox, mailer, now)
