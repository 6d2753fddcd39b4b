"""The bench's table and JSON: every figure next to its ceiling (or target) and ratio."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.bench import report_full


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
            ">= 75% of ceiling",
            ratio >= 0.75,
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
            ">= 35% of ceiling",
            ours / max(ceil, 1e-9) >= 0.35,
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
        *(
            Row(f"e2e p99 accept->processed, {n}/3", p99, "ms", 100.0, "p99 target")
            for n, p99 in enumerate(lat.get("p99_ms_by_third", []), start=1)
        ),
        Row(
            "e2e submit p99 (HTTP)",
            fixed["submit_latency"]["p99_ms"],
            "ms",
            50.0,
            "target",
            "< 50 ms",
            fixed["submit_latency"]["p99_ms"] < 50,
        ),
        *_cost_rows("e2e", fixed, 800.0),
        Row(
            "e2e sustained (saturation)",
            sat["processed_per_second"],
            "msg/s",
            ceiling,
            "min of ceilings",
            ">= 2500 msg/s (goal 3000)",
            sat["processed_per_second"] >= 2500,
        ),
        *_cost_rows("e2e saturation", sat),
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


def _cost_rows(name: str, phase: dict[str, Any], budget: float | None = None) -> list[Row]:
    """CPU per message (all processes, then each) and Kafka requests per message."""
    total = phase.get("cpu_us_per_message_total")
    found = []
    if total is not None:
        found.append(
            Row(
                f"{name} CPU/msg, all processes",
                total,
                "us",
                budget,
                "target" if budget else "",
                f"<= {budget:.0f} us" if budget else "",
                total <= budget if budget else None,
            )
        )
    per_process = phase.get("cpu_us_per_message", {})
    if "broker" in per_process and len(per_process) > 1:
        # What Postino's processes and its queries cost, apart from the embedded broker's
        # share, which grows with what the run has written (see the broker probe).
        without = sum(us for proc, us in per_process.items() if proc != "broker")
        found.append(Row(f"{name} CPU/msg, all but the broker", round(without, 1), "us"))
    for proc, us in per_process.items():
        found.append(Row(f"{name} CPU/msg {proc}", us, "us"))
    for proc, per in phase.get("kafka_requests_per_message", {}).items():
        for api in ("produce", "fetch"):
            found.append(Row(f"{name} {api} req/msg {proc}", per[api], "req"))
    return found


def _full_rows(r: dict[str, Any]) -> list[Row]:
    push, sent = r["accept_to_push_sent"], r["accept_to_callback_push_sent"]
    processed = r["accept_to_callback_processed"]
    rss = r.get("rss_peak_mb", {})
    return [
        Row("full pipeline offered", r["offered_per_second"], "msg/s"),
        Row("full p50 accept->push sent", push["p50_ms"], "ms"),
        Row(
            "full p99 accept->push sent",
            push["p99_ms"],
            "ms",
            250.0,
            "target",
            "< 250 ms",
            push["p99_ms"] < 250 and push["missing"] == 0,
        ),
        Row("full pushes missing at the end", push["missing"], "msg"),
        Row("full callbacks (sent) missing", sent["missing"], "msg"),
        Row("full p50 accept->callback (sent)", sent["p50_ms"], "ms"),
        Row("full p99 accept->callback (sent)", sent["p99_ms"], "ms"),
        Row("full p99 accept->callback (proc.)", processed["p99_ms"], "ms"),
        Row("full p99 accept->processed", r["accept_to_processed"]["p99_ms"], "ms"),
        Row("full submit p99 (HTTP)", r["submit_latency"]["p99_ms"], "ms"),
        *_cost_rows("full", r),
        *(
            Row(f"{role} RSS peak (full)", mb, "MB", 200.0, "target", "< 200 MB", mb < 200)
            for role, mb in rss.items()
        ),
    ]


def _broker_rows(r: dict[str, Any]) -> list[Row]:
    """The embedded broker's CPU per fetch by partition length (see `bench.broker`)."""
    found = [
        Row(f"broker CPU per fetch, {batches} batches", ms, "ms")
        for batches, ms in r["fetch_ms_by_batches"].items()
    ]
    return [*found, Row("broker CPU per fetch, per batch held", r["us_per_batch"], "us")]


def rows(results: dict[str, Any]) -> list[Row]:
    ingress_ceiling = results["ingress"]["ceiling"]["requests_per_second"]
    pipeline_ceiling = results["pipeline"]["ceiling"]["messages_per_second"]
    found = (
        _ingress_rows(results["ingress"])
        + _pipeline_rows(results["pipeline"])
        + _e2e_rows(results["e2e"], ingress_ceiling, pipeline_ceiling)
    )
    if "full_pipeline" in results:
        found += _full_rows(results["full_pipeline"])
    if "full_pipeline_ceiling" in results:
        full, ceiling = results["full_pipeline"], results["full_pipeline_ceiling"]
        found += [Row(*fields) for fields in report_full.ceiling_rows(full, ceiling)]
    if "broker" in results:
        found += _broker_rows(results["broker"])
    return found


def table(
    found: list[Row],
    previous: dict[str, float] | None = None,
    columns: Mapping[str, Mapping[str, float]] | None = None,
) -> str:
    """The rows; with `previous` (figure -> value of an earlier run) a column of it, and
    one more column per entry of `columns` (header -> figures, e.g. another broker's)."""
    extra: dict[str, Mapping[str, float]] = {"previous": previous} if previous else {}
    extra |= columns or {}
    head = (
        f"{'figure':<38} {'value':>9} {'unit':<5} {'ratio':>6}  {'vs':<18} {'target':<25} "
        f"{'verdict':<7}" + "".join(f" {name:>9}" for name in extra)
    )
    lines = [head, "-" * len(head)]
    for row in found:
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
        verdict = "" if row.met is None else ("met" if row.met else "MISSED")
        digits = 3 if row.unit == "req" else 1
        line = (
            f"{row.figure:<38} {row.value:>9.{digits}f} {row.unit:<5} {ratio:>6}  "
            f"{row.reference_name:<18} {row.target:<25} {verdict:<7}"
        )
        for figures in extra.values():
            before = figures.get(row.figure)
            line += f" {before:>9.{digits}f}" if before is not None else f" {'':>9}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def load_previous(out_dir: Path, name: str = "latest.json") -> dict[str, float] | None:
    """figure -> value of the run in `out_dir/<name>`, if there is one."""
    found = load_run(out_dir / name)
    return None if found is None else found[0]


def load_run(path: Path) -> tuple[dict[str, float], str] | None:
    """(figure -> value, when it ran) of the bench document at `path`, if there is one."""
    try:
        doc = json.loads(path.read_text())
        return {r["figure"]: float(r["value"]) for r in doc["table"]}, str(doc.get("at", "?"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def document(
    results: dict[str, Any],
    *,
    options: dict[str, Any],
    seconds: float,
    previous: dict[str, float] | None = None,
    columns: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
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
        "text": table(found, previous, columns),
    }


def write(doc: dict[str, Any], out_dir: Path, stem: str = "bench", also: str | None = None) -> Path:
    """`<stem>-<time>.json`, and the same as `latest.json` (`<stem>-latest.json`), and
    as `also` when given (the latest run on one broker)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(doc, indent=2, default=str)
    path.write_text(text)
    (out_dir / ("latest.json" if stem == "bench" else f"{stem}-latest.json")).write_text(text)
    if also is not None:
        (out_dir / also).write_text(text)
    return path
