"""Latency samples and the few statistics the bench reports."""

from __future__ import annotations

import array
import math


class Latencies:
    """Seconds per request, kept compactly; percentiles by nearest rank."""

    def __init__(self) -> None:
        self._values = array.array("d")

    def add(self, seconds: float) -> None:
        self._values.append(seconds)

    def extend(self, other: Latencies) -> None:
        self._values.extend(other._values)

    def __len__(self) -> int:
        return len(self._values)

    def summary_ms(self) -> dict[str, float]:
        if not self._values:
            return {"p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
        ordered = sorted(self._values)

        def at(p: float) -> float:
            rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
            return round(ordered[rank] * 1000, 2)

        return {"p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99), "max_ms": at(100)}
