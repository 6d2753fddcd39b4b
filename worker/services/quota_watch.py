"""Daily quota notices (docs/integrators/services.md): told once when a service reaches 80% of its
daily quota and once at 100%, from the totals every ingress learns at each quota flush.

The totals come with the flush the ingress already does (`worker.services.limits`):
no query is added per request. Each process remembers what it has queued today, so
it asks the database at most twice a day per service; the notice's gate (its day in
the key) keeps it to one per level per day across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

from worker import logs
from worker.services import notices
from worker.services.backoffice_model import NoticeDraft
from worker.services.notice_outbox import NoticeStore, ServiceLookup

log = logs.get("postino.notices")


class QuotaWatch:
    def __init__(self) -> None:
        self._told: set[tuple[str, date, int]] = set()

    def crossings(
        self, totals: Mapping[str, int], quota_of: Callable[[str], int | None], day: date
    ) -> list[tuple[str, int, int]]:
        """(service id, used, quota) of each service at a level not yet told today."""
        self._told = {t for t in self._told if t[1] == day}
        found = []
        for service_id, used in totals.items():
            quota = quota_of(service_id)
            level = notices.quota_level(used, quota) if quota else None
            if quota and level and (service_id, day, level) not in self._told:
                self._told.add((service_id, day, level))
                found.append((service_id, used, quota))
        return found

    def forget(self, service_id: str, day: date, used: int, quota: int) -> None:
        """Undo `crossings` for one service (its notice could not be queued)."""
        self._told.discard((service_id, day, notices.quota_level(used, quota) or 0))


async def queue_quota_notices(
    watch: QuotaWatch,
    totals: Mapping[str, int],
    quota_of: Callable[[str], int | None],
    stores: tuple[ServiceLookup, NoticeStore],
    *,
    now: datetime,
    day: date,
) -> list[str]:
    """Queue the quota notices the latest totals call for; the kinds queued."""
    services, outbox = stores
    crossed = watch.crossings(totals, quota_of, day)
    drafts: list[NoticeDraft] = []
    try:
        for service_id, used, quota in crossed:
            service = await services.get(service_id)
            if service is None:
                continue
            body = await services.organization_email(service.organization_fiscal_code)
            contacts = notices.Contacts(service.email, body)
            drafts.append(notices.quota_reached(service, used, quota, contacts, day=day, at=now))
        queued = await outbox.queue(drafts) if drafts else []
    except BaseException:
        for service_id, used, quota in crossed:  # the next flush tries again
            watch.forget(service_id, day, used, quota)
        raise
    if queued:
        log.info("quota_notices_queued", kinds=queued)
    return queued
