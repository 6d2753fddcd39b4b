"""One flow sampler per process: its counters' increments into `console_flow`.

Every `sample_seconds` the sampler reads the process's own Prometheus counters (a
few dozen in-memory values) and, when any moved, adds the increments to the current
second's row of this process: one INSERT a second at most, nothing on any request's
or batch's path. So the console sees the flow of every process, ingress and workers
alike, wherever they run. Every ten minutes it also prunes flow rows older than an
hour and attempts older than the retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from worker import logs
from worker.adapters import console_repo
from worker.adapters.postgres import Pool
from worker.console.flow import increments, read_counters
from worker.settings import Settings

log = logs.get("postino.console")

_PRUNE_EVERY_SECONDS = 600.0


def process_source() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


class FlowSampler:
    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._prefix = settings.kafka.topic_prefix
        self._interval = settings.console.sample_seconds
        self._retention = timedelta(days=settings.console.retention_days)
        self._clock = clock
        self._source = process_source()
        # Counted before the sampler started is not this window's flow.
        self._last = read_counters(self._prefix)
        self._pruned_at = clock()

    async def sample_once(self) -> int:
        """Write what moved since the last sample; returns how many series moved."""
        now = read_counters(self._prefix)
        moved = increments(self._last, now)
        if moved:
            await console_repo.add_flow(self._pool, int(self._clock()), self._source, moved)
        self._last = now  # after the write: a failed write is retried with the next sample
        return len(moved)

    async def prune_if_due(self) -> None:
        if self._clock() - self._pruned_at < _PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = self._clock()
        await console_repo.prune(self._pool, datetime.now(UTC) - self._retention)

    async def run(self, stop: asyncio.Event) -> None:
        """Sample until `stop`, then once more; database trouble is logged, never raised."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            try:
                await self.sample_once()
                await self.prune_if_due()
            except Exception as exc:
                log.warning("flow_sample_failed", error=logs.safe_error_text(exc))
