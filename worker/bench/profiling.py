"""`postino bench --profile`: where the hot paths spend their CPU (cProfile, no new deps).

The ingress is profiled as its own process (`python -m cProfile -m worker ingress`,
stats written when SIGTERM stops it) under the same closed-loop load; deliver is
profiled in this process around `run_until_idle()` on a pre-filled topic. The `.prof`
files land next to the JSON (open them with `python -m pstats`).
"""

from __future__ import annotations

import cProfile
import pstats
from pathlib import Path
from typing import Any

from worker.bench import deliver, ingress, procs
from worker.bench.harness import Bench
from worker.roles import deliver as deliver_role


def top(stats: pstats.Stats, key: str, limit: int = 15) -> list[dict[str, Any]]:
    """The `limit` functions with the highest `key` ("tottime" or "cumtime")."""
    index = 2 if key == "tottime" else 3
    entries = stats.stats.items()  # type: ignore[attr-defined]
    ranked = sorted(entries, key=lambda item: item[1][index], reverse=True)[:limit]
    total = sum(v[2] for _, v in entries) or 1.0
    return [
        {
            "function": f"{Path(file).name}:{line}({name})",
            "calls": value[1],
            "tottime": round(value[2], 3),
            "cumtime": round(value[3], 3),
            "share": round(value[index] / total, 3),
        }
        for (file, line, name), value in ranked
    ]


def summary(path: Path) -> dict[str, Any]:
    stats = pstats.Stats(str(path))
    return {"file": str(path), "tottime": top(stats, "tottime"), "cumtime": top(stats, "cumtime")}


async def profile_ingress(bench: Bench, out_dir: Path) -> dict[str, Any]:
    port, prefix = bench.port(), bench.prefix("profile-ingress")
    await bench.settings(prefix)
    path = out_dir / "ingress.prof"
    argv = procs.postino("ingress", profile_to=path)
    opts = bench.options
    with procs.Service("profile-ingress", argv, bench.env(prefix, port), bench.workdir) as svc:
        await svc.wait_http(ingress.HOST, port)
        side = ingress.Side(svc, port, ingress.submit_requests(port, opts.citizens))
        await ingress.drive([side], opts.concurrency, opts.ingress_seconds)
        figures = side.figures()
    return {"load": figures, **summary(path)}


async def profile_deliver(bench: Bench, out_dir: Path) -> dict[str, Any]:
    prefix = bench.prefix("profile-deliver")
    count = bench.options.deliver_messages
    await deliver.prefill(bench, prefix, count)
    await bench.reset_inbox()
    path = out_dir / "deliver.prof"
    async with bench.runtime(prefix) as runtime:
        runner = deliver_role.build(runtime)
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            await runner.run_until_idle()
        finally:
            profiler.disable()
            await runner.stop()
    profiler.dump_stats(str(path))
    return summary(path)


async def profile_all(bench: Bench, out_dir: Path) -> dict[str, Any]:
    """The caller creates `out_dir`."""
    return {
        "ingress": await profile_ingress(bench, out_dir),
        "deliver": await profile_deliver(bench, out_dir),
    }
