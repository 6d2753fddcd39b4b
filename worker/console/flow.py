"""Per-second flow series: what the process counted, and the window the console shows.

Every process samples its own Prometheus counters (`read_counters`) and adds the
increments since the last sample to `console_flow`, one row per (second, series,
process). The console reads the sums back into a `FlowWindow`: per-second points
for the last 15 minutes, with the accept->processed latency percentiles computed
from the summed histogram buckets (as Prometheus's `histogram_quantile` does).

Series names: `accepted`, `message:<STATUS>`, `notification:<CHANNEL>:<STATUS>`,
`callback:<outcome>`, `dlq:<topic>`, and `latency_le:<bound>` / `latency_count`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Metric

from worker import metrics

WINDOW_SECONDS = 900
#: Submit routes whose 201 means "accepted" (the ingress's own count).
SUBMIT_ROUTES = frozenset({"/api/v1/messages", "/api/v1/messages/{fiscal_code}"})
LATENCY_PREFIX = "latency_le:"


def _samples(metric: Any) -> Iterable[tuple[str, dict[str, str], float]]:
    collected: Iterable[Metric] = metric.collect()
    for family in collected:
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def _accepted(labels: dict[str, str]) -> str | None:
    submit = labels.get("route") in SUBMIT_ROUTES and labels.get("method") == "POST"
    return "accepted" if submit and labels.get("status") == "201" else None


#: Prometheus sample name -> the series it counts (None: not a console series).
_NAMERS: dict[str, Callable[[dict[str, str]], str | None]] = {
    "postino_http_requests_total": _accepted,
    "postino_messages_total": lambda labels: f"message:{labels['status']}",
    "postino_notifications_total": lambda labels: (
        f"notification:{labels['channel']}:{labels['status']}"
    ),
    "postino_callbacks_total": lambda labels: f"callback:{labels['outcome']}",
    "postino_accept_to_processed_seconds_bucket": lambda labels: LATENCY_PREFIX + labels["le"],
    "postino_accept_to_processed_seconds_count": lambda _: "latency_count",
}


def _series(name: str, labels: dict[str, str], topic_prefix: str) -> str | None:
    if name == "postino_dlq_records_total":
        topic = labels["topic"]
        if not topic.startswith(topic_prefix):
            return None  # another topic prefix's (tests share one process)
        return f"dlq:{topic.removeprefix(topic_prefix)}"
    namer = _NAMERS.get(name)
    return namer(labels) if namer is not None else None


def read_counters(topic_prefix: str) -> dict[str, float]:
    """The process's cumulative counts by series name (cheap: a few dozen samples)."""
    found: dict[str, float] = {}
    sources = (
        metrics.HTTP_REQUESTS,
        metrics.MESSAGES,
        metrics.NOTIFICATIONS,
        metrics.CALLBACKS,
        metrics.DLQ_RECORDS,
        metrics.ACCEPT_TO_PROCESSED,
    )
    for source in sources:
        for name, labels, value in _samples(source):
            series = _series(name, labels, topic_prefix)
            if series is not None:
                found[series] = found.get(series, 0.0) + value
    return found


def increments(before: Mapping[str, float], now: Mapping[str, float]) -> dict[str, float]:
    """What each series counted since `before` (series that did not move are left out)."""
    moved: dict[str, float] = {}
    for series, value in now.items():
        delta = value - before.get(series, 0.0)
        if delta > 0:
            moved[series] = delta
    return moved


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile from cumulative bucket counts {upper bound: count}, interpolated
    linearly within the bucket; None without observations."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the last finite bucket: its bound, as Prometheus
            span = count - lower_count
            share = (rank - lower_count) / span if span > 0 else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def _bound(series: str) -> float:
    return float(series.removeprefix(LATENCY_PREFIX))


@dataclass(slots=True)
class FlowWindow:
    """Per-second sums of the last `WINDOW_SECONDS`, kept up to date incrementally."""

    points: dict[int, dict[str, float]] = field(default_factory=dict)

    def replace_from(self, since: int, rows: Iterable[tuple[int, str, float]], now: int) -> None:
        """Replace every second >= `since` with `rows` (second, series, sum); forget what
        fell out of the window ending at `now`."""
        for second in [s for s in self.points if s >= since or s <= now - WINDOW_SECONDS]:
            del self.points[second]
        for second, series, value in rows:
            if second > now - WINDOW_SECONDS:
                self.points.setdefault(second, {})[series] = value

    def names(self) -> list[str]:
        return sorted({name for point in self.points.values() for name in point})

    def dense(self, name: str, start: int, end: int) -> list[float]:
        return [self.points.get(s, {}).get(name, 0.0) for s in range(start, end + 1)]

    def latency_buckets(self, start: int, end: int) -> dict[float, float]:
        buckets: dict[float, float] = {}
        for second in range(start, end + 1):
            for name, value in self.points.get(second, {}).items():
                if name.startswith(LATENCY_PREFIX):
                    bound = _bound(name)
                    buckets[bound] = buckets.get(bound, 0.0) + value
        return buckets

    def latency(self, start: int, end: int, step: int) -> dict[str, Any]:
        """p50/p99 over the whole window, and per `step` seconds for the chart."""
        whole = self.latency_buckets(start, end)
        steps: list[int] = []
        p50: list[float | None] = []
        p99: list[float | None] = []
        for at in range(start, end + 1, step):
            part = self.latency_buckets(at, min(end, at + step - 1))
            steps.append(at)
            p50.append(quantile(0.5, part))
            p99.append(quantile(0.99, part))
        return {
            "count": int(max(whole.values(), default=0.0)),
            "p50": quantile(0.5, whole),
            "p99": quantile(0.99, whole),
            "step_seconds": step,
            "t": steps,
            "p50_series": p50,
            "p99_series": p99,
        }
