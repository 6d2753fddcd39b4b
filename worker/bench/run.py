"""`postino bench`: the whole run, over the harness and the three measurements."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import asyncpg

from worker.bench import deliver, e2e, ingress, report, workload
from worker.bench import profiling as profiler
from worker.bench.harness import Bench, BenchOptions
from worker.embedded import embedded_stack


async def run_bench(options: BenchOptions, out_dir: Path) -> dict[str, Any]:
    """The whole run; returns the JSON document that was also written to `out_dir`."""
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="postino-bench-") as tmp,
        embedded_stack(Path(tmp) / "stack") as (url, bootstrap),
    ):
        bench = Bench(options, url, bootstrap, Path(tmp))
        await bench.settings(bench.prefix("setup"))
        conn = await asyncpg.connect(url)
        try:
            await workload.seed(conn, options.citizens)
        finally:
            await conn.close()
        results = {
            "ingress": await ingress.measure(bench),
            "pipeline": await deliver.measure(bench),
            "e2e": await e2e.measure(bench),
        }
        if options.profile:
            out_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before profiling
            results["profile"] = await profiler.profile_all(bench, out_dir)
    document = report.document(results, options=asdict(options), seconds=time.monotonic() - started)
    report.write(document, out_dir)
    return document
