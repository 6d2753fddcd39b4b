"""Content retention: messages older than `retention.message_content_days` lose their
content, payment data and fiscal code; their rows keep id, service, dates and statuses.

`erase_expired` runs a pass of batches of `retention.batch_size` messages, each batch
one statement in its own short transaction, until a batch comes back short (nothing
more to erase) or `max_batches` ran; the next pass goes on. It is idempotent (an
erased row is never picked again) and safe beside another eraser (rows in use are
skipped, not waited for). The active reminders process runs a pass after each of its
rounds: one process at a time, with no extra scheduler.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Protocol

from worker import logs
from worker.settings import RetentionSettings

log = logs.get("postino.retention")

#: Batches of one pass (at 1,000 messages each, 100,000 messages a pass).
MAX_BATCHES = 100


class RetentionStore(Protocol):
    async def erase_batch(self, older_than: datetime, limit: int) -> int:
        """Erase up to `limit` messages created before `older_than`; how many."""
        ...


def cutoff(now: datetime, settings: RetentionSettings) -> datetime:
    """Messages created before this lose their content."""
    return now - timedelta(days=settings.message_content_days)


async def erase_expired(
    store: RetentionStore,
    settings: RetentionSettings,
    now: datetime,
    *,
    max_batches: int = MAX_BATCHES,
    pause_seconds: float = 0.01,
) -> int:
    """One pass (see the module's docstring); the number of messages erased. Between
    two batches it pauses, so it never holds the database's attention for long."""
    older_than = cutoff(now, settings)
    total = 0
    for batch in range(max_batches):
        if batch:
            await asyncio.sleep(pause_seconds)
        erased = await store.erase_batch(older_than, settings.batch_size)
        total += erased
        if erased < settings.batch_size:
            break
    if total:
        log.info("retention_erased", messages=total, older_than=older_than.isoformat())
    return total
