"""What tracing costs the ingress: the ingress bench's rounds, paired, on three sides.

`python -m devkit.bench.tracing_cost [seconds] [--before DIR] [--tree DIR]` starts an embedded
stack, an OTLP/HTTP sink (a subprocess that answers 200 to every POST), and
`postino ingress` processes side by side that take turns under the same closed-loop
submit load (so a background load hits all alike):

- `off`: this code (or `--tree DIR`'s), `OTEL_EXPORTER_OTLP_ENDPOINT` unset (disabled);
- `on`: the same code, exporting every span to the sink (tracing enabled);
- `on-sampled`: the same, keeping 10% of the traces
  (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`);
- `before` (with `--before DIR`, a checkout of the code before tracing, e.g. a
  `git worktree`): the baseline that `off` must match within noise.

Printed: requests/s, p50, p99 and server CPU per request of each side, and the
ratios on/off and off/before.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devkit.bench import ingress
from devkit.bench.harness import Bench, BenchOptions, own_stack
from devkit.embedded import free_port
from worker import logs

_SINK = """
import sys
from aiohttp import web
async def take(request):
    await request.read()
    return web.Response(status=200, content_type="application/x-protobuf")
app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_post("/v1/traces", take)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
#: The ratio of traces the `on-sampled` side keeps (the standard OTel sampler settings).
SAMPLED = 0.1
KEYS = ("requests_per_second", "p50_ms", "p99_ms", "server_cpu_us_per_request")


async def _start(bench: Bench, name: str, **env: str) -> ingress.Side:
    return await ingress.start_side(bench, name, env=env)


def _ratios(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    return {k: round(b[k] / a[k], 3) for k in KEYS if a.get(k)}


async def measure(
    seconds: float, before: Path | None, endpoint: str, tree: Path | None = None
) -> dict[str, Any]:
    options = BenchOptions(ingress_seconds=seconds)
    async with own_stack(options, "tracing-bench") as bench:
        names: list[str] = []
        sides: list[ingress.Side] = []
        try:
            if before is not None:
                sides.append(await _start(bench, "before", PYTHONPATH=str(before)))
                names.append("before")
            code = {"PYTHONPATH": str(tree)} if tree is not None else {}
            sides.append(await _start(bench, "off", **code))
            sides.append(await _start(bench, "on", OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, **code))
            sides.append(
                await _start(
                    bench,
                    "on-sampled",
                    OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
                    OTEL_TRACES_SAMPLER="parentbased_traceidratio",
                    OTEL_TRACES_SAMPLER_ARG=str(SAMPLED),
                    **code,
                )
            )
            names += ["off", "on", "on-sampled"]
            await ingress.drive(sides, options.concurrency, seconds)
            figures = {n: s.figures() for n, s in zip(names, sides, strict=True)}
        finally:
            for side in sides:
                side.service.stop()
    ratios = {
        "on/off": _ratios(figures["off"], figures["on"]),
        "on-sampled/off": _ratios(figures["off"], figures["on-sampled"]),
    }
    if "before" in figures:
        ratios["off/before"] = _ratios(figures["before"], figures["off"])
    return {"seconds_per_side": seconds, "sides": figures, "ratio": ratios}


def main() -> None:
    logs.configure("warning", "console")  # stdout is the JSON result
    args = sys.argv[1:]
    trees: dict[str, Path | None] = {"--before": None, "--tree": None}
    for flag in trees:
        if flag in args:
            at = args.index(flag)
            trees[flag] = Path(args[at + 1]).resolve()
            del args[at : at + 2]
    before, tree = trees["--before"], trees["--tree"]
    seconds = float(args[0]) if args else 30.0
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", _SINK, str(sink_port)])  # noqa: S603
    try:
        endpoint = f"http://127.0.0.1:{sink_port}"
        result = asyncio.run(measure(seconds, before, endpoint, tree))
    finally:
        sink.terminate()
        sink.wait(10)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
