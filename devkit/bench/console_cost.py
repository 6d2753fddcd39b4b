"""What the operator console costs the ingress: the same ingress twice, paired.

`python -m devkit.bench.console_cost [seconds]` starts an embedded stack and two
`postino ingress` processes side by side: one with flow sampling off and nobody
looking (`POSTINO_CONSOLE_SAMPLE_SECONDS=0`), one sampling every second with the
console open (a poller asks for the flow and the dead letters every 3 s, as the
page does). They take turns under the same closed-loop submit load (the ingress
bench's rounds, so a background load hits both alike); printed: requests/s, p50,
p99 and server CPU per request of each, and the ratios console/baseline. With
`--no-watch` nobody opens the console: what every process pays for sampling alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import aiohttp

from devkit.bench import ingress
from devkit.bench.harness import Bench, BenchOptions, own_stack
from worker import logs

ADMIN = {"Authorization": "Bearer postino-bench-admin"}


async def _start(bench: Bench, name: str, **env: str) -> ingress.Side:
    return await ingress.start_side(bench, name, env=env)


async def _watch(port: int, stop: asyncio.Event) -> int:
    """Poll the console's data like an open page; returns the answers received."""
    answers = 0
    base = f"http://{ingress.HOST}:{port}/api/v1/status"
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        while not stop.is_set():
            for path in ("/flow", "/dlq"):
                async with http.get(base + path) as resp:
                    await resp.read()
                    answers += resp.status == 200
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=3.0)
    return answers


async def measure(seconds: float, watch: bool = True) -> dict[str, Any]:
    options = BenchOptions(ingress_seconds=seconds)
    async with own_stack(options, "console-bench") as bench:
        sides: list[ingress.Side] = []
        stop = asyncio.Event()
        try:
            sides.append(await _start(bench, "baseline", POSTINO_CONSOLE_SAMPLE_SECONDS="0"))
            sides.append(await _start(bench, "console", POSTINO_CONSOLE_SAMPLE_SECONDS="1"))
            watcher = asyncio.create_task(
                _watch(sides[1].port, stop) if watch else asyncio.sleep(0, 0)
            )
            await ingress.drive(sides, options.concurrency, seconds)
            stop.set()
            polls = await watcher
            baseline, console = (side.figures() for side in sides)
        finally:
            stop.set()
            for side in sides:
                side.service.stop()
    keys = ("requests_per_second", "p50_ms", "p99_ms", "server_cpu_us_per_request")
    ratios = {k: round(console[k] / baseline[k], 3) for k in keys if baseline.get(k)}
    return {"baseline": baseline, "console": console, "console_polls": polls, "ratio": ratios}


def main() -> None:
    logs.configure("warning", "console")
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 30.0
    watch = "--no-watch" not in sys.argv
    print(json.dumps(asyncio.run(measure(seconds, watch)), indent=2))


if __name__ == "__main__":
    main()
