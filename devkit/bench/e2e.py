"""End to end: HTTP submit -> inbox row, with `postino ingress` and `postino deliver`
as separate processes on the embedded stack.

Two phases on the same processes:
- *fixed rate*: open-loop load at `e2e_rate` msg/s; latency accept -> processed is
  `messages.processed_at - created_at` of every row of the phase (both set on this
  machine's clock: created_at at acceptance in the ingress, processed_at by the
  deliver transaction);
- *saturation*: closed-loop load at `concurrency`; the sustained rate is rows /
  (last processed_at - first created_at), so a backlog left in Kafka counts against it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from devkit.bench import flame, ingress, loadgen, procs
from devkit.bench.harness import Bench
from devkit.bench.meter import Meter

_PHASE = """
SELECT count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY lat) * 1000 AS p50_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) * 1000 AS p99_ms,
       max(lat) * 1000 AS max_ms,
       extract(epoch FROM max(processed_at) - min(created_at)) AS span
FROM (SELECT created_at, processed_at,
             extract(epoch FROM processed_at - created_at) AS lat
      FROM messages WHERE created_at >= $1 AND created_at < $2) AS phase
"""


_THIRDS = """
SELECT third, percentile_cont(0.99) WITHIN GROUP (ORDER BY lat) * 1000 AS p99_ms
FROM (SELECT width_bucket(extract(epoch FROM created_at - $1),
                          0, extract(epoch FROM $2::timestamptz - $1), 3) AS third,
             extract(epoch FROM processed_at - created_at) AS lat
      FROM messages WHERE created_at >= $1 AND created_at < $2) AS phase
GROUP BY third ORDER BY third
"""


async def _rows(bench: Bench, since: datetime, until: datetime) -> int:
    rows = await bench.sql(
        "SELECT count(*) AS n FROM messages WHERE created_at >= $1 AND created_at < $2",
        since,
        until,
    )
    return int(rows[0]["n"])


async def settled(bench: Bench, since: datetime, until: datetime, expected: int) -> dict[str, Any]:
    """Wait (up to 120 s) until the phase's rows are all in the inbox; their figures."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await _rows(bench, since, until) >= expected:
            break
        await asyncio.sleep(0.2)
    row = (await bench.sql(_PHASE, since, until))[0]
    thirds = await bench.sql(_THIRDS, since, until)
    return {
        "rows": int(row["n"]),
        "p50_ms": round(float(row["p50_ms"] or 0), 2),
        "p99_ms": round(float(row["p99_ms"] or 0), 2),
        "max_ms": round(float(row["max_ms"] or 0), 2),
        "span_seconds": round(float(row["span"] or 0), 2),
        # The p99 of each third of the phase, by acceptance time: the embedded broker's
        # fetches cost more as its partitions grow (see `broker`), so a rising
        # sequence is the broker, a flat one is queueing of ours.
        "p99_ms_by_third": [round(float(t["p99_ms"] or 0), 2) for t in thirds],
    }


async def _phase(
    bench: Bench, port: int, meter: Meter, tag: str, open_rate: float | None
) -> dict[str, Any]:
    opts = bench.options
    requests = ingress.submit_requests(port, opts.citizens)
    gen = loadgen.LoadGenerator(ingress.HOST, port, requests)
    since = datetime.now(UTC)
    recorder = profiler(bench, tag, meter)
    busy0 = procs.machine_busy()
    meter.start()
    try:
        if open_rate is not None:
            result = await gen.run_open(open_rate, opts.e2e_seconds)
        else:
            result = await gen.run_closed(opts.concurrency, opts.saturate_seconds)
        until = datetime.now(UTC)
        figures = await settled(bench, since, until, result.ok)
        costs = meter.figures(figures["rows"])
        busy1 = procs.machine_busy()
    except BaseException:
        if recorder:
            recorder.stop()
        raise
    span = figures["span_seconds"] or result.seconds
    return {
        "offered_per_second": open_rate,
        "accepted": result.ok,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "submit_latency": result.latencies.summary_ms(),
        "accepted_per_second": round(result.rate, 1),
        "processed_per_second": round(figures["rows"] / span, 1) if span else 0.0,
        "accept_to_processed": figures,
        **costs,
        "generator_cpu_seconds": round(result.cpu_seconds, 2),
        "machine_busy": round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1.0), 3),
        "profile": recorder.stop() if recorder else None,
    }


def profiler(bench: Bench, tag: str, meter: Meter) -> flame.Recorder | None:
    """With `--profile`: py-spy on every process of `meter`, started now."""
    if bench.profile_dir is None:
        return None
    pids = {name: pid for name, (pid, _) in meter.ours.items()}
    recorder = flame.Recorder(bench.profile_dir, tag, pids)
    recorder.start()
    return recorder


async def measure(
    bench: Bench, tag: str = "e2e", extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Both phases on one pair of fresh processes (`extra_env` added to their settings)."""
    port = bench.port()
    prefix = bench.prefix(tag)
    await bench.settings(prefix)
    await bench.reset_inbox()
    env = bench.env(prefix, port, **(extra_env or {}))
    with (
        bench.role(f"{tag}-ingress", "ingress", env) as http,
        bench.role(f"{tag}-deliver", "deliver", env) as worker,
    ):
        await http.wait_http(ingress.HOST, port)
        warm_since = datetime.now(UTC) - timedelta(seconds=1)  # its own rows, not the history
        warm = await loadgen.LoadGenerator(
            ingress.HOST, port, ingress.submit_requests(port, 50)
        ).run_open(200, 1.0)
        await settled(bench, warm_since, datetime.now(UTC), warm.ok)
        meter = Meter(
            {
                "ingress": (http.pid, bench.counts(f"{tag}-ingress")),
                "deliver": (worker.pid, bench.counts(f"{tag}-deliver")),
            },
            bench.stack_pids(),
        )
        fixed = await _phase(bench, port, meter, f"{tag}-fixed", float(bench.options.e2e_rate))
        saturated = await _phase(bench, port, meter, f"{tag}-saturation", None)
        rss = {
            "ingress": round(procs.memory_kb(http.pid) / 1024, 1),
            "deliver": round(procs.memory_kb(worker.pid) / 1024, 1),
        }
    return {"fixed_rate": fixed, "saturation": saturated, "rss_peak_mb": rss}
