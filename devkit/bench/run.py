"""`postino bench`: one run on its own embedded stack, ceilings and ours side by side.

Order: ingress vs its ceiling, deliver vs the pipeline ceiling, end to end (ingress +
deliver), then the full pipeline (+ notify and callbacks, with local sinks), then what a
fetch costs the embedded broker by partition length. Results
go to stdout (a table) and to `<out>/bench-<time>.json` and `<out>/latest.json`; the
summary of the previous `latest.json` is compared with this run's.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from devkit.bench import broker, deliver, e2e, fullpipe, ingress, kafkacount, report
from devkit.bench.harness import BenchOptions, own_stack


async def run_bench(options: BenchOptions, out_dir: Path) -> dict[str, Any]:
    """The whole run; returns the JSON document that was also written to `out_dir`."""
    started, load0 = time.monotonic(), os.getloadavg()
    previous = report.load_previous(out_dir)
    async with own_stack(options, "bench", out_dir) as bench:
        bench.counts("bench").parent.mkdir(parents=True)
        kafkacount.install(bench.counts("bench"))  # this process's drains
        results = {
            "ingress": await ingress.measure(bench),
            "pipeline": await deliver.measure(bench),
            "e2e": await e2e.measure(bench),
            "full_pipeline": await fullpipe.measure(bench),
            "broker": await broker.measure(bench),
        }
    document = report.document(
        results, options=asdict(options), seconds=time.monotonic() - started, previous=previous
    )
    document["load_average"] = {"start": load0, "end": os.getloadavg()}
    document["text"] += (
        f"\nload average (1 min) at start / end: {load0[0]:.1f} / {os.getloadavg()[0]:.1f}"
    )
    report.write(document, out_dir)
    return document
