"""Callback outcomes counted in memory per service, handed over at each flush.

The callbacks role records every attempt's outcome here (a dictionary update, no
I/O); a periodic flush takes the counts and merges them into the database, where
the notice check reads them. Per service it keeps the first failure after the
latest success (`failing_since`), the latest failure and the latest success seen
since the previous flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class HealthCounts:
    service_id: str
    #: The first failure after `last_success` (None: the latest outcome is a success).
    failing_since: datetime | None = None
    last_failure: datetime | None = None
    last_success: datetime | None = None


class CallbackHealth:
    """Per-service outcomes since the last `take()`; `record` never does I/O."""

    def __init__(self) -> None:
        self._counts: dict[str, HealthCounts] = {}

    def record(self, service_id: str, delivered: bool, at: datetime) -> None:
        counts = self._counts.get(service_id)
        if counts is None:
            counts = self._counts[service_id] = HealthCounts(service_id)
        if delivered:
            if counts.last_success is None or at >= counts.last_success:
                counts.last_success = at
                if counts.last_failure is None or at >= counts.last_failure:
                    counts.failing_since = None
            return
        if counts.last_failure is None or at > counts.last_failure:
            counts.last_failure = at
        after_success = counts.last_success is None or at > counts.last_success
        if after_success and (counts.failing_since is None or at < counts.failing_since):
            counts.failing_since = at

    def take(self) -> list[HealthCounts]:
        """The counts so far, forgetting them (a failed merge may `put_back` them)."""
        taken, self._counts = list(self._counts.values()), {}
        return taken

    def put_back(self, counts: list[HealthCounts]) -> None:
        for c in counts:
            if c.last_failure is not None:
                self.record(c.service_id, False, c.failing_since or c.last_failure)
                self.record(c.service_id, False, c.last_failure)
            if c.last_success is not None:
                self.record(c.service_id, True, c.last_success)

    def __len__(self) -> int:
        return len(self._counts)
