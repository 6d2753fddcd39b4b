"""Per-service limits (docs/integrators/limits.md): a per-second rate and a daily quota.

The rate is a token bucket per service and per process (burst = one second's worth).
The daily quota holds across every ingress process without a database write per
request: each process counts locally, and every `quota_sync_seconds` flushes its
unflushed counts with one upsert per service that returns the new global count. A
request is admitted while `last known global + unflushed local < quota`, so the
overshoot is bounded by what the other processes admit within one sync interval.
Days are calendar days in Europe/Rome (IO's senders are Italian public bodies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")


@dataclass(frozen=True, slots=True)
class Limited:
    """Why a request is refused, and after how many seconds to retry."""

    reason: str
    retry_after: int
    #: `rate_exceeded` or `quota_exceeded` (the problem's code, as in the DLQ)
    code: str = "rate_exceeded"


class UsageStore(Protocol):
    async def add_usage(self, counts: Sequence[tuple[str, date, int]]) -> dict[str, int]:
        """Add the counts (service, day, n; n may be 0) and return each service's total."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


def take_token(buckets: dict[str, _Bucket], key: str, rate: int, clock: float) -> float:
    """0 when a token of `key`'s bucket was taken; else seconds until the next one."""
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = _Bucket(float(rate), clock)
    bucket.tokens = min(float(rate), bucket.tokens + (clock - bucket.updated) * rate)
    bucket.updated = clock
    if bucket.tokens >= 1.0:
        bucket.tokens -= 1.0
        return 0.0
    return (1.0 - bucket.tokens) / rate


@dataclass(slots=True)
class LookupLimiter:
    """The lookups' rate per API key (profiles and message status): a token bucket per
    service, per process, apart from its submit rate. Nothing is counted for a day:
    a lookup writes nothing, it only must not let a key enumerate citizens."""

    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, service_id: str, *, rate: int, clock: float) -> Limited | None:
        wait = take_token(self._buckets, service_id, rate, clock)
        if wait > 0:
            return Limited("lookup rate exceeded", max(1, math.ceil(wait)))
        return None


def day_of(now: datetime) -> date:
    return now.astimezone(ROME).date()


def seconds_to_next_day(now: datetime) -> int:
    local = now.astimezone(ROME)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), ROME)
    return max(1, math.ceil((midnight - local).total_seconds()))


@dataclass(slots=True)
class Limiter:
    """In-memory limits of one process; `flush` shares the quota counts with the others."""

    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    #: (service, day) -> admitted here and not yet flushed
    _local: dict[tuple[str, date], int] = field(default_factory=dict)
    #: (service, day) -> global count as of the last flush
    _global: dict[tuple[str, date], int] = field(default_factory=dict)

    def _take_token(self, service_id: str, rate: int, clock: float) -> float:
        return take_token(self._buckets, service_id, rate, clock)

    def admit(
        self, service_id: str, *, rate: int, quota: int, now: datetime, clock: float
    ) -> Limited | None:
        """Count one request, or say why not (quota first: it lasts longer)."""
        key = (service_id, day_of(now))
        used = self._global.get(key, 0) + self._local.get(key, 0)
        if used >= quota:
            return Limited("daily quota exhausted", seconds_to_next_day(now), "quota_exceeded")
        wait = self._take_token(service_id, rate, clock)
        if wait > 0:
            return Limited("rate limit exceeded", max(1, math.ceil(wait)), "rate_exceeded")
        self._local[key] = self._local.get(key, 0) + 1
        return None

    async def flush(self, store: UsageStore, now: datetime) -> int:
        """Push unflushed counts and learn the global totals of every service seen today.

        Counts survive a failed flush (they are pushed with the next one).
        """
        today = day_of(now)
        pending, self._local = self._local, {}
        counts = {sid: n for (sid, day), n in pending.items() if day == today}
        for sid, day in self._global:
            if day == today:
                counts.setdefault(sid, 0)
        try:
            totals = await store.add_usage([(sid, today, n) for sid, n in counts.items()])
        except BaseException:
            for key, n in pending.items():
                self._local[key] = self._local.get(key, 0) + n
            raise
        self._global = {(sid, today): total for sid, total in totals.items()}
        return sum(counts.values())

    def totals(self, day: date) -> dict[str, int]:
        """The global count of each service seen on `day`, as of the last flush."""
        return {sid: n for (sid, d), n in self._global.items() if d == day}
