"""`make chaos-cluster`: the cluster chaos run from the command line.

`python -m tests.chaos.cluster_main [--rate R] [--short] [--out PATH]` prints the
table, writes it as JSON (default `var/chaos/cluster.json`) and ends with one line,
`N passed, M failed` (a check per fault, the baseline, and every offer accepted);
the exit status is 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.chaos import cluster_faults
from tests.chaos.cluster_run import ClusterPlan, run


def plan(rate: float, short: bool) -> ClusterPlan:
    if short:
        return ClusterPlan(
            rate=rate,
            steps=cluster_faults.SHORT,
            roles=("ingress", "deliver", "notify", "callbacks"),
            instances=1,
            baseline=8.0,
            window=25.0,
            tail=0.0,
        )
    return ClusterPlan(rate=rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos-cluster", description=__doc__)
    parser.add_argument(
        "--rate", type=float, default=float(os.environ.get("CHAOS_RATE", "20")), help="msg/s"
    )
    parser.add_argument("--short", action="store_true", help="one fault (leader kill)")
    parser.add_argument("--out", type=Path, default=Path("var/chaos/cluster.json"))
    args = parser.parse_args(argv)
    # SIGTERM as Ctrl-C: the run is cancelled and stops everything it started
    # (PostgreSQL's postmaster would otherwise outlive it).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    report = asyncio.run(run(plan(args.rate, args.short)))
    print(report.table())
    report.write(args.out)
    print(f"table written to {args.out}")
    print(report.verdict())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
