"""The `messages.status` events whose first attempt holds the offset commit.

An event is held from the moment its first attempt is started or queued until that
attempt is settled (delivered or refused), or until a retry-tier copy of it is
acknowledged by the broker (after a transient failure, or by the watchdog when the
attempt is still waiting or running `POSTINO_CALLBACK_COPY_AFTER_SECONDS` after the
event was read). The consumer commits a partition only below its first held offset, so
a committed offset never passes an event that is neither settled nor copied.

A copy on its way is *claimed*: the watchdog and a failing attempt never both publish
one for the same event. A claim whose publish failed is given back (the event stays
held, and the watchdog copies it on a later round).
"""

from __future__ import annotations

import heapq
from datetime import datetime

from worker.services.callback_send import Job

_Partition = tuple[str, int]


def _where(job: Job) -> tuple[str, int, int]:
    record = job.record
    return record.topic, record.partition, record.offset


class Held:
    """Held events by (topic, partition, offset), in the order they were read."""

    def __init__(self) -> None:
        #: Held event -> (when it was read, its job); insertion order is reading order.
        self._jobs: dict[tuple[str, int, int], tuple[datetime, Job]] = {}
        #: Per partition, a heap of held offsets (released ones are dropped lazily).
        self._heaps: dict[_Partition, list[int]] = {}
        #: Held events whose copy is being published.
        self._claimed: set[tuple[str, int, int]] = set()

    def __len__(self) -> int:
        return len(self._jobs)

    def hold(self, job: Job, read_at: datetime) -> None:
        where = _where(job)
        self._jobs[where] = (read_at, job)
        heapq.heappush(self._heaps.setdefault(where[:2], []), where[2])

    def holds(self, job: Job) -> bool:
        return self._jobs.get(_where(job), (None, None))[1] is job

    def release(self, job: Job) -> None:
        """Settled, or copied: the commit may pass it."""
        if self.holds(job):
            where = _where(job)
            del self._jobs[where]
            self._claimed.discard(where)

    def first(self, topic: str, partition: int, since: int = 0) -> int | None:
        """The first offset held in the partition at or after `since`, or None. Offsets
        below `since` are of an earlier assignment of the partition (another consumer
        went on from there): they never bound a commit again, though their events stay
        held for the watchdog and their attempts."""
        heap = self._heaps.get((topic, partition))
        if not heap:
            return None
        while heap and (heap[0] < since or (topic, partition, heap[0]) not in self._jobs):
            heapq.heappop(heap)
        if not heap:
            del self._heaps[(topic, partition)]
            return None
        return heap[0]

    def claim(self, job: Job) -> bool:
        """Take the right to publish the job's copy; False: not held, or claimed already."""
        where = _where(job)
        if not self.holds(job) or where in self._claimed:
            return False
        self._claimed.add(where)
        return True

    def unclaim(self, jobs: list[Job]) -> None:
        """Their copies were not published: they stay held, for the watchdog."""
        self._claimed.difference_update(_where(job) for job in jobs)

    def overdue(self, read_before: datetime) -> list[Job]:
        """Held events read at or before `read_before`, not claimed, oldest first: claimed."""
        found: list[Job] = []
        for where, (read_at, job) in self._jobs.items():
            if read_at > read_before:
                break
            if where not in self._claimed:
                found.append(job)
        self._claimed.update(_where(job) for job in found)
        return found
