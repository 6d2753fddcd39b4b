"""Retry policy, declared once: which tier a failed attempt goes to, when, and until when.

Two levels, both bounded:
- in process, a single call is tried at most `attempts` times with short waits
  (tenacity), for blips such as a dropped connection;
- across time, a failed attempt `n` (1-based) waits `delays[n - 1]` (the last delay
  repeats) in tier `tiers[n - 1]` (the last tier repeats). When the next attempt
  would fall after the deadline there is no next attempt: the caller ends the work
  (`EXPIRED` for a notification, given up for a callback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from schemas.topics import Topic
from worker.core.errors import RetryableError

T = TypeVar("T")
#: Waits between in-process tries of one call: 50 ms, doubling, at most 500 ms.
_FIRST_WAIT, _MAX_WAIT = 0.05, 0.5


@dataclass(frozen=True, slots=True)
class Retry:
    """The next attempt: into `tier`, not before `due_at`."""

    tier: Topic
    due_at: datetime


def next_retry(
    attempts_made: int,
    now: datetime,
    deadline: datetime,
    delays: Sequence[float],
    tiers: Sequence[Topic],
) -> Retry | None:
    """Where attempt `attempts_made + 1` waits, or None when it would miss the deadline."""
    if attempts_made < 1 or not delays or not tiers:
        raise ValueError("next_retry needs at least one attempt made, delays and tiers")
    delay = delays[min(attempts_made, len(delays)) - 1]
    tier = tiers[min(attempts_made, len(tiers)) - 1]
    due_at = now + timedelta(seconds=delay)
    if due_at >= deadline:
        return None
    return Retry(tier, due_at)


async def call_with_retry(call: Callable[[], Awaitable[T]], attempts: int) -> T:
    """Run `call`, again on `RetryableError`, at most `attempts` times (waits 50-500 ms).

    The first try runs before any tenacity state is built: most calls succeed at once."""
    try:
        return await call()
    except RetryableError:
        if attempts <= 1:
            raise
    await asyncio.sleep(_FIRST_WAIT)
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(attempts - 1),
        # Tenacity counts from the second try: 100 ms, 200 ms, ... after the 50 ms above.
        wait=wait_exponential(multiplier=_FIRST_WAIT * 2, max=_MAX_WAIT),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
