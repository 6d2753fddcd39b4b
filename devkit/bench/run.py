"""`postino bench`: one run on its own embedded stack, ceilings and ours side by side.

Order: ingress vs its ceiling, deliver vs the pipeline ceiling, end to end (ingress +
deliver), then the full pipeline (+ notify and callbacks, with local sinks), then what a
fetch costs the embedded broker by partition length. Results
go to stdout (a table) and to `<out>/bench-<time>.json` and `<out>/latest.json`; the
summary of the previous run on the same broker is compared with this run's.

The run names its broker (Apache Kafka when Java is there, else the embedded Tansu;
`--broker` chooses) in the table and the JSON, which is also kept as
`<out>/latest-<broker>.json`; the other broker's latest figures, when there are some,
are the table's last column (`postino bench --broker memory` refreshes Tansu's).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from devkit.bench import broker, deliver, e2e, fullpipe, ingress, kafkacount, report
from devkit.bench.harness import BenchOptions, own_stack
from devkit.brokers import choose

#: The column header of each broker kind's figures beside another's.
SHORT_NAMES = {"kafka": "Kafka", "memory": "Tansu", "durable": "Tansu S3"}


async def run_bench(options: BenchOptions, out_dir: Path) -> dict[str, Any]:
    """The whole run; returns the JSON document that was also written to `out_dir`."""
    started, load0 = time.monotonic(), os.getloadavg()
    kind = choose(options.broker).kind
    options = replace(options, broker=kind)
    previous = report.load_previous(out_dir, f"latest-{kind}.json")
    others = {
        other: found
        for other in SHORT_NAMES
        if other != kind and (found := report.load_run(out_dir / f"latest-{other}.json"))
    }
    async with own_stack(options, "bench", out_dir) as bench:
        label = bench.broker_label
        bench.counts("bench").parent.mkdir(parents=True)
        kafkacount.install(bench.counts("bench"))  # this process's drains
        results = {
            "ingress": await ingress.measure(bench),
            "pipeline": await deliver.measure(bench),
            "e2e": await e2e.measure(bench),
            "full_pipeline": await fullpipe.measure(bench),
            "full_pipeline_ceiling": await fullpipe.measure(bench, "full-ceiling", ceiling=True),
            "broker": await broker.measure(bench),
        }
    document = report.document(
        results,
        options=asdict(options),
        seconds=time.monotonic() - started,
        previous=previous,
        columns={SHORT_NAMES[k]: figures for k, (figures, _) in others.items()},
    )
    document["broker"] = label
    heading = [f"broker: {label}"] + [
        f"column {SHORT_NAMES[k]}: the latest run on that broker ({at})"
        for k, (_, at) in others.items()
    ]
    document["text"] = "\n".join(heading) + "\n" + document["text"]
    document["load_average"] = {"start": load0, "end": os.getloadavg()}
    document["text"] += (
        f"\nload average (1 min) at start / end: {load0[0]:.1f} / {os.getloadavg()[0]:.1f}"
    )
    report.write(document, out_dir, also=f"latest-{kind}.json")
    return document
