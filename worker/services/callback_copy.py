"""Retry-tier copies of callback events: which tier, due when, and the port that
publishes the ones made outside a consumer batch (a failed first attempt's, the
watchdog's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from schemas.topics import CALLBACK_RETRY_TIERS
from worker import logs
from worker.core.batch import DUE_HEADER, due_header
from worker.core.errors import UnpublishableError
from worker.core.records import OutRecord
from worker.services.callback_send import ATTEMPT_HEADER, CallbackDeps, Job
from worker.services.retry import next_retry

log = logs.get("postino.callbacks")


class CopyPublisher(Protocol):
    """Publishes records and returns once the broker acknowledged every one."""

    async def publish_many(self, records: Sequence[OutRecord]) -> None: ...


def retry_copy(
    job: Job, attempts_made: int, deps: CallbackDeps, min_delay: float = 0
) -> OutRecord | None:
    """The retry-tier copy for attempt `attempts_made + 1`, due after the tier's delay
    and at least `min_delay` from now; None past `max_age_seconds`."""
    deadline = job.event.at + timedelta(seconds=deps.settings.max_age_seconds)
    now = deps.clock()
    retry = next_retry(
        attempts_made, now, deadline, deps.settings.retry_delays, CALLBACK_RETRY_TIERS
    )
    if retry is None:
        return None
    due_at = max(retry.due_at, now + timedelta(seconds=min_delay))
    headers = (
        *((k, v) for k, v in job.record.headers if k not in (ATTEMPT_HEADER, DUE_HEADER)),
        (ATTEMPT_HEADER, str(attempts_made).encode()),
        due_header(due_at.timestamp()),
    )
    return OutRecord(deps.topics.name(retry.tier), job.record.value or b"", job.record.key, headers)


async def publish_copies(publisher: CopyPublisher, copies: Sequence[tuple[Job, OutRecord]]) -> None:
    """Publish the jobs' copies and wait for the broker's acknowledgement. A copy the
    broker will never take (over its size limit) is left out, one at a time, so that it
    holds nobody's commit for ever: its job is marked `last` (nothing follows its
    attempt) and the loss is logged. Any other failure is raised, nothing settled."""
    try:
        await publisher.publish_many([copy for _, copy in copies])
    except UnpublishableError:
        for job, copy in copies:
            try:
                await publisher.publish_many([copy])
            except UnpublishableError as exc:
                job.last = True
                log.error(
                    "callback_copy_unpublishable",
                    message_id=job.event.message_id,
                    error=logs.safe_error_text(exc, 200),
                )
