"""The bench's table and JSON: every figure next to its ceiling (or target) and ratio."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    figure: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.reference in (None, 0) or math.isnan(self.value):
            return None
        return self.value / self.reference


def _ingress_rows(r: dict[str, Any]) -> list[Row]:
    ceil, ours = r["ceiling"], r["ours"]
    ratio = ours["requests_per_second"] / max(ceil["requests_per_second"], 1e-9)
    gen_ok = ours["generator_cpu_seconds"] < ours["server_cpu_seconds"]
    return [
        Row("ingress ceiling", ceil["requests_per_second"], "req/s"),
        Row("ingress ceiling p50 / p99", ceil["p50_ms"], "ms", None, f"p99 {ceil['p99_ms']} ms"),
        Row(
            "ingress (ours)",
            ours["requests_per_second"],
            "req/s",
            ceil["requests_per_second"],
            "ingress ceiling",
            ">= 70% of ceiling",
            ratio >= 0.70,
        ),
        Row(
            "ingress CPU per request (ours)",
            ours["server_cpu_us_per_request"],
            "us",
            ceil["server_cpu_us_per_request"],
            "ceiling CPU/req",
        ),
        Row("ingress (ours) p50", ours["p50_ms"], "ms", ceil["p50_ms"], "ceiling p50"),
        Row("ingress (ours) p99", ours["p99_ms"], "ms", ceil["p99_ms"], "ceiling p99"),
        Row(
            "load generator CPU (ingress run)",
            ours["generator_cpu_seconds"],
            "cpu s",
            ours["server_cpu_seconds"],
            "ingress CPU",
            "< system under test",
            gen_ok,
        ),
        Row("ingress RSS peak (ingress run)", ours["rss_peak_mb"], "MB", 200.0, "target"),
    ]


def _pipeline_rows(r: dict[str, Any]) -> list[Row]:
    ceil = r["ceiling"]["messages_per_second"]
    ours = r["ours"]["messages_per_second"]
    return [
        Row("pipeline ceiling", ceil, "msg/s"),
        Row(
            "deliver (ours)",
            ours,
            "msg/s",
            ceil,
            "pipeline ceiling",
            ">= 30% of ceiling",
            ours / max(ceil, 1e-9) >= 0.30,
        ),
        Row(
            "deliver CPU per message (ours)",
            r["ours"]["cpu_us_per_message"],
            "us",
            r["ceiling"]["cpu_us_per_message"],
            "ceiling CPU/msg",
        ),
    ]


def _e2e_rows(r: dict[str, Any], ingress_ceiling: float, pipeline_ceiling: float) -> list[Row]:
    fixed, sat, rss = r["fixed_rate"], r["saturation"], r["rss_peak_mb"]
    lat = fixed["accept_to_processed"]
    sut_cpu = sum(sat["sut_cpu_seconds"].values())
    ceiling = min(ingress_ceiling, pipeline_ceiling)
    offered = fixed["offered_per_second"]
    return [
        Row(
            "e2e achieved at fixed rate", fixed["processed_per_second"], "msg/s", offered, "offered"
        ),
        Row("e2e p50 accept->processed", lat["p50_ms"], "ms", 100.0, "p99 target"),
        Row(
            "e2e p99 accept->processed",
            lat["p99_ms"],
            "ms",
            100.0,
            "target",
            "< 100 ms",
            lat["p99_ms"] < 100,
        ),
        Row("e2e max accept->processed", lat["max_ms"], "ms", 100.0, "p99 target"),
        Row("e2e submit p99 (HTTP)", fixed["submit_latency"]["p99_ms"], "ms"),
        Row(
            "e2e sustained (saturation)",
            sat["processed_per_second"],
            "msg/s",
            ceiling,
            "min of ceilings",
            ">= 3000 msg/s",
            sat["processed_per_second"] >= 3000,
        ),
        Row(
            "ingress RSS peak (e2e)",
            rss["ingress"],
            "MB",
            200.0,
            "target",
            "< 200 MB",
            rss["ingress"] < 200,
        ),
        Row(
            "deliver RSS peak (e2e)",
            rss["deliver"],
            "MB",
            200.0,
            "target",
            "< 200 MB",
            rss["deliver"] < 200,
        ),
        Row(
            "load generator CPU (saturation)",
            sat["generator_cpu_seconds"],
            "cpu s",
            sut_cpu,
            "ingress+deliver CPU",
            "< system under test",
            sat["generator_cpu_seconds"] < sut_cpu,
        ),
    ]


def rows(results: dict[str, Any]) -> list[Row]:
    ingress_ceiling = results["ingress"]["ceiling"]["requests_per_second"]
    pipeline_ceiling = results["pipeline"]["ceiling"]["messages_per_second"]
    return (
        _ingress_rows(results["ingress"])
        + _pipeline_rows(results["pipeline"])
        + _e2e_rows(results["e2e"], ingress_ceiling, pipeline_ceiling)
    )


def table(found: list[Row]) -> str:
    head = (
        f"{'figure':<36} {'value':>10} {'unit':<6} {'ratio':>7}  {'vs':<20} {'target':<20} verdict"
    )
    lines = [head, "-" * len(head)]
    for row in found:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        verdict = "" if row.met is None else ("met" if row.met else "MISSED")
        lines.append(
            f"{row.figure:<36} {row.value:>10.1f} {row.unit:<6} {ratio:>7}  "
            f"{row.reference_name:<20} {row.target:<20} {verdict}"
        )
    return "\n".join(lines)


def document(results: dict[str, Any], *, options: dict[str, Any], seconds: float) -> dict[str, Any]:
    found = rows(results)
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(seconds, 1),
        "options": options,
        "results": results,
        "table": [
            {
                "figure": r.figure,
                "value": r.value,
                "unit": r.unit,
                "ratio": None if r.ratio is None else round(r.ratio, 3),
                "vs": r.reference_name,
                "target": r.target,
                "met": r.met,
            }
            for r in found
        ],
        "text": table(found),
    }


def write(doc: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(doc, indent=2, default=str)
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path
