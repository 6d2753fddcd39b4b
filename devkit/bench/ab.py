"""`postino bench --ab`: paired A/B runs of one scenario in one invocation.

A change is judged by running the same scenario on two sides, A (the baseline) and B
(the candidate), in alternating order (A B, B A, A B, ...) on one embedded stack, each
round on fresh processes. A side differs by settings (`POSTINO_*` variables) and/or
by code: `tree` is a checkout whose `worker` and `schemas` the side's processes
import (`PYTHONPATH`), e.g. a `git worktree` of the commit before the change.
Background load that comes and goes hits both sides alike; the figure to read is
the median over rounds of the per-round ratio B/A.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devkit.bench import e2e, fullpipe, procs, report
from devkit.bench.harness import Bench, BenchOptions, own_stack

Scenario = Callable[[Bench, str, dict[str, str]], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {"e2e": e2e.measure, "full": fullpipe.measure}

#: The figures printed (all numeric figures are in the JSON), by scenario.
HEADLINES = {
    "e2e": [
        "fixed_rate.accept_to_processed.p50_ms",
        "fixed_rate.accept_to_processed.p99_ms",
        "fixed_rate.submit_latency.p99_ms",
        "fixed_rate.cpu_us_per_message_total",
        "fixed_rate.cpu_us_per_message.ingress",
        "fixed_rate.cpu_us_per_message.deliver",
        "fixed_rate.cpu_us_per_message.broker",
        "fixed_rate.cpu_us_per_message.postgres",
        "fixed_rate.kafka_requests_per_message.ingress.produce",
        "fixed_rate.kafka_requests_per_message.deliver.produce",
        "fixed_rate.kafka_requests_per_message.deliver.fetch",
        "saturation.processed_per_second",
        "saturation.accepted_per_second",
        "saturation.submit_latency.p99_ms",
        "saturation.cpu_us_per_message_total",
    ],
    "full": [
        "accept_to_push_sent.p50_ms",
        "accept_to_push_sent.p99_ms",
        "accept_to_push_sent.missing",
        "accept_to_callback_push_sent.p50_ms",
        "accept_to_callback_push_sent.p99_ms",
        "accept_to_callback_push_sent.max_ms",
        "accept_to_callback_push_sent.missing",
        "accept_to_callback_processed.p99_ms",
        "accept_to_processed.p99_ms",
        "cpu_us_per_message_total",
        "cpu_us_per_message.deliver",
        "cpu_us_per_message.notify",
        "cpu_us_per_message.callbacks",
        "cpu_us_per_message.broker",
        "cpu_us_per_message.postgres",
        "kafka_requests_per_message.deliver.produce",
        "kafka_requests_per_message.notify.produce",
        "kafka_requests_per_message.callbacks.produce",
    ],
}

#: Figures printed whatever their last part (e.g. one per topic).
GROUPED_HEADLINES = ("callback_attempts_by_topic.",)


@dataclass(frozen=True, slots=True)
class Side:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    tree: Path | None = None

    def process_env(self) -> dict[str, str]:
        if self.tree is None:
            return dict(self.env)
        # `python -m` puts the working directory first on the path: run from inside a
        # checkout, the side would import that checkout's `worker`, not its tree's.
        return {**self.env, "PYTHONPATH": str(self.tree.resolve()), "PYTHONSAFEPATH": "1"}

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.env.items())]
        if self.tree is not None:
            parts.append(f"tree {self.tree}")
        return ", ".join(parts) or "as is"


def flatten(doc: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves as dotted keys (profiles and status counts left out)."""
    found: dict[str, float] = {}
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in ("profile", "statuses"):
                continue
            found.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(doc, int | float) and not isinstance(doc, bool):
        found[prefix.rstrip(".")] = float(doc)
    return found


def compare(a_runs: list[dict[str, float]], b_runs: list[dict[str, float]]) -> dict[str, Any]:
    """Per figure: medians of A and B, the per-round ratios B/A and their median."""
    found: dict[str, Any] = {}
    for key in sorted(set(a_runs[0]) & set(b_runs[0])):
        a = [run[key] for run in a_runs if key in run]
        b = [run[key] for run in b_runs if key in run]
        ratios = [y / x for x, y in zip(a, b, strict=False) if x]
        found[key] = {
            "a": a,
            "b": b,
            "a_median": round(statistics.median(a), 3),
            "b_median": round(statistics.median(b), 3),
            "ratio_median": round(statistics.median(ratios), 3) if ratios else None,
        }
    return found


def table(scenario: str, figures: dict[str, Any], a: Side, b: Side) -> str:
    lines = [
        f"A: {a.describe()}",
        f"B: {b.describe()}",
        f"{'figure':<58} {'A median':>10} {'B median':>10} {'B/A':>6}  per round B/A",
    ]
    grouped = [k for k in figures if k.startswith(GROUPED_HEADLINES)]
    for key in HEADLINES[scenario] + grouped:
        fig = figures.get(key)
        if fig is None:
            continue
        per = " ".join(
            f"{y / x:.2f}" if x else "-" for x, y in zip(fig["a"], fig["b"], strict=False)
        )
        ratio = f"{fig['ratio_median']:.2f}" if fig["ratio_median"] is not None else ""
        lines.append(
            f"{key:<58} {fig['a_median']:>10.3f} {fig['b_median']:>10.3f} {ratio:>6}  {per}"
        )
    return "\n".join(lines)


async def run_ab(
    options: BenchOptions, out_dir: Path, sides: tuple[Side, Side], scenario: str, rounds: int
) -> dict[str, Any]:
    """`rounds` rounds of A and B (order alternating); the JSON also written to `out_dir`."""
    started = time.monotonic()
    measure = SCENARIOS[scenario]
    runs: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
    busy0, load0 = procs.machine_busy(), os.getloadavg()
    async with own_stack(options, "ab", out_dir) as bench:
        for n in range(rounds):
            for side in sides if n % 2 == 0 else sides[::-1]:
                tag = f"{scenario}-{side.name}{n}"
                runs[side.name].append(await measure(bench, tag, side.process_env()))
    busy1 = procs.machine_busy()
    a, b = sides
    figures = compare([flatten(r) for r in runs[a.name]], [flatten(r) for r in runs[b.name]])
    doc = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started, 1),
        "scenario": scenario,
        "rounds": rounds,
        "options": asdict(options),
        "sides": {s.name: {"env": s.env, "tree": str(s.tree) if s.tree else None} for s in sides},
        "machine_busy": round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1.0), 3),
        "load_average": {"start": load0, "end": os.getloadavg()},
        "figures": figures,
        "runs": runs,
        "text": table(scenario, figures, a, b)
        + f"\nload average at start / end: {load0[0]:.1f} / {os.getloadavg()[0]:.1f}",
    }
    report.write(doc, out_dir, stem="ab")
    return doc
