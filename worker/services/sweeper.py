"""The notify sweeper: finds notifications stuck in THROTTLED and re-drives or closes them.

A notification is stuck when the lease of its claim (a send in progress) expired:
its owner died between the claim and the outcome; or, as a safety net, when its
next attempt was due longer than the grace period ago (a retry record lost). Past
its deadline it becomes EXPIRED (with its status event); otherwise its claim is
released and the request is published again with the attempt count of the row,
which the normal path dedupes. Idempotent: a row re-driven by one sweeper is fresh
for the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from schemas import codecs
from schemas.enums import Channel, NotificationStatus
from schemas.events import NotificationRequest
from schemas.topics import Topic, Topics
from worker import logs
from worker.core.records import OutRecord
from worker.services.notify import status_event
from worker.services.notify_ports import NotificationRow, Outcome
from worker.services.ports import Publisher
from worker.settings import NotifySettings

log = logs.get("postino.sweeper")


class SweeperStore(Protocol):
    async def stuck(
        self, now: datetime, older_than: datetime, limit: int
    ) -> list[NotificationRow]: ...

    async def release_for_redrive(
        self, row_id: str, now: datetime, older_than: datetime
    ) -> bool: ...

    async def record_outcomes(
        self, outcomes: Sequence[Outcome]
    ) -> list[tuple[NotificationRow, bool]]: ...


@dataclass(frozen=True, slots=True)
class SweepReport:
    redriven: int = 0
    expired: int = 0


def request_of(row: NotificationRow) -> NotificationRequest:
    return NotificationRequest(
        notification_id=row.id,
        message_id=row.message_id,
        fiscal_code=row.fiscal_code,
        sender_service_id=row.sender_service_id,
        channel=Channel(row.channel),
        deadline=row.deadline,
        kind=row.kind,
        attempt=row.attempts,
    )


async def sweep(
    *,
    store: SweeperStore,
    publisher: Publisher,
    topics: Topics,
    settings: NotifySettings,
    now: datetime,
    limit: int = 500,
) -> SweepReport:
    cutoff = now - timedelta(seconds=settings.sweeper_grace_seconds)
    stuck = await store.stuck(now, cutoff, limit)
    late = [r for r in stuck if r.deadline <= now]
    expired = await store.record_outcomes(
        [
            Outcome(request_of(r), NotificationStatus.EXPIRED, r.attempts, "expired by sweeper")
            for r in late
        ]
    )
    out = [
        OutRecord(
            topics.name(Topic.STATUS),
            codecs.STATUS.encode(status_event(row)),
            row.message_id.encode(),
        )
        for row, changed in expired
        if changed
    ]
    redriven = 0
    for row in stuck:
        if row.deadline > now and await store.release_for_redrive(row.id, now, cutoff):
            request = request_of(row)
            out.append(
                OutRecord(
                    topics.name(Topic.NOTIFICATIONS),
                    codecs.NOTIFICATION.encode(request),
                    request.fiscal_code.encode(),
                )
            )
            redriven += 1
    await publisher.publish_many(out)
    report = SweepReport(redriven=redriven, expired=sum(1 for _, c in expired if c))
    if stuck:
        log.info("notifications_swept", redriven=report.redriven, expired=report.expired)
    return report
