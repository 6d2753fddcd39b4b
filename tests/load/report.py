"""What the load tests record and print: latencies per kind of request, verdicts."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from devkit.bench.stats import Latencies


@dataclass
class Recorder:
    latencies: dict[str, Latencies] = field(
        default_factory=lambda: collections.defaultdict(Latencies)
    )
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)

    def add(self, kind: str, status: int, seconds: float) -> None:
        self.latencies[kind].add(seconds)
        self.latencies["overall"].add(seconds)
        self.statuses[(kind, status)] += 1

    def count(self, kind: str, status: int) -> int:
        return self.statuses[(kind, status)]

    def ms(self, kind: str, p: float) -> float:
        return self.latencies[kind].percentile(p) * 1000


def verdict(name: str, value_ms: float, limit_ms: float) -> str:
    ok = value_ms < limit_ms
    return f"  {'PASS' if ok else 'FAIL'}  {name:<28} {value_ms:8.1f} ms  (< {limit_ms:.0f} ms)"


def summary(title: str, rec: Recorder) -> list[str]:
    lines = [f"\n== {title}"]
    for kind in sorted(rec.latencies):
        lat = rec.latencies[kind]
        lines.append(
            f"  {kind:<10} n={len(lat):<6} p50={rec.ms(kind, 50):7.1f} ms "
            f"p95={rec.ms(kind, 95):7.1f} ms p99={rec.ms(kind, 99):7.1f} ms"
        )
    codes = ", ".join(f"{k}:{s}={n}" for (k, s), n in sorted(rec.statuses.items()))
    lines.append(f"  statuses   {codes}")
    return lines
