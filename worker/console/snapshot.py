"""The console's cached figures: one refresher per process, idle while nobody looks.

Requests never compute anything: they read bytes encoded (and gzipped) by the last
refresh. The refresher runs every `refresh_seconds` while the console was asked for
something in the last minute, and sleeps otherwise; a request that finds the cache
older than two intervals waits for the next refresh (shared by every waiting
request, with a time limit) instead of starting its own. Each refresh:
- re-reads only the last seconds of `console_flow` (late writers included) into the
  15-minute window, after one full read at start;
- every 10 seconds at most, asks the broker watch for lag, DLQ counts and new dead
  letters (long-lived clients).
A section that fails keeps its last figures and reports its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import msgspec

from worker import logs
from worker.adapters import console_repo
from worker.adapters.postgres import Pool
from worker.console.broker import BrokerLook, BrokerWatch
from worker.console.flow import LATENCY_PREFIX, WINDOW_SECONDS, FlowWindow
from worker.settings import Settings

log = logs.get("postino.console")

#: Seconds of `console_flow` re-read each refresh: rows written late still count.
_REREAD_SECONDS = 15
_IDLE_AFTER_SECONDS = 60.0
_SECTION_TIMEOUT = 5.0
_LATENCY_STEP = 15
#: The broker look (every partition's high watermark, every group's offsets) costs
#: the ingress ~25 ms of CPU with 8 partitions a topic: lag and DLQs refresh at most
#: this often, the flow every refresh.
_BROKER_EVERY_SECONDS = 10.0


class Encoded:
    """A payload as JSON bytes, and gzipped once for every client that accepts it."""

    def __init__(self, payload: Any) -> None:
        self.body = msgspec.json.encode(payload)
        self.gzipped = gzip.compress(self.body, compresslevel=5)


def replay_command(dlq_topic: str) -> str:
    return f"make dlq-replay TOPIC={dlq_topic.removesuffix('.dlq')}"


class Console:
    def __init__(
        self,
        pool: Pool,
        bootstrap: str,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._clock = clock
        self._started = clock()
        self.interval = settings.console.refresh_seconds
        self.flow = FlowWindow()
        self.watch = BrokerWatch(bootstrap, settings.kafka)
        self._flow_read = False
        self._look = BrokerLook()
        self._lag_history: deque[tuple[int, dict[str, dict[str, int]]]] = deque(
            maxlen=int(WINDOW_SECONDS / self.interval) + 1
        )
        self._errors: dict[str, str] = {}
        self._encoded: dict[str, Encoded] = {}
        self._refreshed_at = 0.0
        self._broker_at = -math.inf
        self._asked_at = 0.0
        self._asked = asyncio.Event()
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- requests -------------------------------------------------------------

    async def get(self, name: str) -> Encoded:
        """The cached payload `name` ("overview", "flow" or "dlq"), fresh within two intervals."""
        self._asked_at = self._clock()
        self._asked.set()
        if self._clock() - self._refreshed_at > 2 * self.interval:
            done = self._done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=_SECTION_TIMEOUT * 2)
        return self._encoded.get(name) or Encoded({"error": "not ready"})

    # -- the refresher --------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="console-refresher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.watch.close()

    async def _run(self) -> None:
        while True:
            if self._clock() - self._asked_at > _IDLE_AFTER_SECONDS:
                self._asked.clear()
                await self._asked.wait()
            await self.refresh()
            await asyncio.sleep(self.interval)

    async def refresh(self) -> None:
        """Refresh every section (each with a time limit), then re-encode the payloads."""
        now = int(self._clock())
        await self._section("flow", self._refresh_flow(now))
        if self._clock() - self._broker_at >= max(self.interval, _BROKER_EVERY_SECONDS):
            self._broker_at = self._clock()
            await self._section("broker", self._refresh_broker(now))
        self._encoded = {
            "overview": Encoded(self.overview_payload(now)),
            "flow": Encoded(self.flow_payload(now)),
            "dlq": Encoded(self.dlq_payload()),
        }
        self._refreshed_at = self._clock()
        done, self._done = self._done, asyncio.Event()
        done.set()

    async def _section(self, name: str, work: Any) -> None:
        try:
            await asyncio.wait_for(work, timeout=_SECTION_TIMEOUT)
            self._errors.pop(name, None)
        except Exception as exc:
            self._errors[name] = type(exc).__name__
            log.warning("console_refresh_failed", section=name, error=logs.safe_error_text(exc))

    async def _refresh_flow(self, now: int) -> None:
        since = now - _REREAD_SECONDS if self._flow_read else now - WINDOW_SECONDS
        rows = await console_repo.read_flow(self._pool, since)
        self.flow.replace_from(since, rows, now)
        self._flow_read = True

    async def _refresh_broker(self, now: int) -> None:
        self._look = await self.watch.look()
        self._lag_history.append((now, self._look.lag))

    # -- payloads -------------------------------------------------------------

    def overview_payload(self, now: int) -> dict[str, Any]:
        return {
            "generated_at": _iso(now),
            "uptime_seconds": round(self._clock() - self._started, 1),
            "topic_prefix": self._settings.kafka.topic_prefix,
            "consumer_lag": self._look.lag,
            "dlq_records": {topic: held["records"] for topic, held in self._look.dlq.items()},
            "errors": dict(self._errors),
        }

    def flow_payload(self, now: int) -> dict[str, Any]:
        start, end = now - WINDOW_SECONDS + 1, now
        series = {
            name: [int(v) for v in self.flow.dense(name, start, end)]
            for name in self.flow.names()
            if not name.startswith(LATENCY_PREFIX) and name != "latency_count"
        }
        return {
            "generated_at": _iso(now),
            "start": start,
            "end": end,
            "step_seconds": 1,
            "refresh_seconds": self.interval,
            "series": series,
            "latency": self.flow.latency(start, end, _LATENCY_STEP),
            "lag": self._lag_payload(start),
            "errors": dict(self._errors),
        }

    def _lag_payload(self, start: int) -> dict[str, Any]:
        history = [(t, lag) for t, lag in self._lag_history if t >= start]
        keys = sorted({(g, topic) for _, lag in history for g, tl in lag.items() for topic in tl})
        return {
            "t": [t for t, _ in history],
            "series": {
                f"{group} / {topic}": [lag.get(group, {}).get(topic, 0) for _, lag in history]
                for group, topic in keys
            },
            "now": self._look.lag,
        }

    def dlq_payload(self) -> dict[str, Any]:
        letters = self.watch.dead_letters()
        topics = []
        for topic, held in sorted(self._look.dlq.items()):
            recent = [asdict(v) for v in letters if v.topic == topic][:10]
            topics.append(
                {
                    "topic": topic,
                    "records": held["records"],
                    "pending": held["pending"],
                    "replay_command": replay_command(topic),
                    "recent": recent,
                }
            )
        return {
            "generated_at": _iso(int(self._clock())),
            "topics": topics,
            "errors": dict(self._errors),
        }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
