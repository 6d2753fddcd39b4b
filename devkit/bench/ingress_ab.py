"""The ingress against its ceiling alone, and optionally against older code, paired.

`python -m devkit.bench.ingress_ab [--before TREE] [--rounds N] [--seconds S]
[--broker KIND]` starts one embedded stack and, side by side, the bare ceiling,
`postino ingress` from `TREE` when given (a checkout, e.g. `git worktree add` or
`git archive` of the commit before a change: its processes import that tree's
`worker`), and `postino ingress` from this checkout. They take turns under the
ingress bench's closed-loop submit load, in an order that reverses every round, so
a background load that comes and goes hits them alike. Each round prints the server
CPU per request of every side and the ratios to the ceiling (and to `before`); the
summary gives the medians over rounds, the figures to read on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from typing import Any

from devkit.bench import ingress
from devkit.bench.harness import Bench, BenchOptions, own_stack
from worker import logs


async def _sides(bench: Bench, before: str | None) -> dict[str, ingress.Side]:
    sides = {
        "ceiling": await ingress.start_side(bench, "ingress-ceiling", "devkit.bench.bare_ingress")
    }
    if before is not None:
        sides["before"] = await ingress.start_side(
            bench, "ingress-before", env={"PYTHONPATH": before}
        )
    sides["ours"] = await ingress.start_side(bench, "ingress")
    return sides


async def _round(
    sides: dict[str, ingress.Side], n: int, bench: Bench, seconds: float
) -> dict[str, float]:
    """One round over every side; CPU per request of each, and the ratios."""
    us: dict[str, float] = {}
    order = list(sides.items())
    for name, side in order if n % 2 == 0 else reversed(order):
        cpu, ok = side.server_cpu, side.result.ok
        await side.round(bench.options.concurrency, seconds)
        us[name] = (side.server_cpu - cpu) / max(side.result.ok - ok, 1) * 1e6
    row: dict[str, float] = {k: round(v, 1) for k, v in us.items()}
    for name in us:
        if name != "ceiling":
            row[f"{name}/ceiling"] = round(us[name] / us["ceiling"], 3)
    if "before" in us:
        row["ours/before"] = round(us["ours"] / us["before"], 3)
    return row


async def measure(options: BenchOptions, rounds: int, before: str | None) -> dict[str, Any]:
    seconds = options.ingress_seconds / rounds
    async with own_stack(options, "ingress-ab") as bench:
        sides: dict[str, ingress.Side] = {}
        try:
            sides = await _sides(bench, before)
            rows = []
            for n in range(rounds):
                rows.append(await _round(sides, n, bench, seconds))
                print(json.dumps(rows[-1]), flush=True)
            figures = {name: side.figures() for name, side in sides.items()}
        finally:
            for side in sides.values():
                side.service.stop()
    medians = {k: round(statistics.median(row[k] for row in rows), 3) for k in rows[0]}
    return {"rounds": rows, "median": medians, "sides": figures, "load": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="a checkout whose ingress is the baseline")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4.0, help="per side and round")
    parser.add_argument("--broker", default="auto", help="auto, kafka or memory")
    args = parser.parse_args()
    logs.configure("warning", "console")
    options = BenchOptions.quick(
        broker=args.broker, ingress_seconds=args.seconds * args.rounds, citizens=1000
    )
    result = asyncio.run(measure(options, args.rounds, args.before))
    print(json.dumps({k: result[k] for k in ("median", "load")}))


if __name__ == "__main__":
    main()
