"""`postino bench`: ceilings vs our ingress, deliver, end to end and the full pipeline."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from worker.settings import Settings

_FLAGS: dict[str, tuple[type[int] | type[float], str]] = {
    "concurrency": (int, "connections of the closed-loop runs"),
    "ingress_seconds": (float, "measured seconds of each ingress run"),
    "deliver_messages": (int, "records pre-filled for each pipeline drain"),
    "e2e_rate": (int, "offered msg/s of the fixed-rate end-to-end phase"),
    "e2e_seconds": (float, "seconds of the fixed-rate end-to-end phase"),
    "saturate_seconds": (float, "seconds of the saturation end-to-end phase"),
    "citizens": (int, "distinct citizens (profiles) the messages go to"),
    "pipeline_rate": (int, "offered msg/s of the full-pipeline phase"),
    "pipeline_seconds": (float, "seconds of the full-pipeline phase"),
    "partitions": (int, "partitions of every bench topic"),
}


def register(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    parser = sub.add_parser("bench", help="benchmarks: ceilings vs ours (own embedded stack)")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy flame graphs of every process under test (<out>/profile/)",
    )
    parser.add_argument("--out", type=Path, help="JSON directory (default <data dir>/bench)")
    for name, (kind, text) in _FLAGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=text)
    commands["bench"] = run


def run(settings: Settings, args: argparse.Namespace) -> int:
    from worker import logs
    from worker.bench.harness import BenchOptions
    from worker.bench.run import run_bench

    logs.configure("warning", settings.log_format)  # the table is the output

    given: dict[str, Any] = {n: getattr(args, n) for n in _FLAGS if getattr(args, n) is not None}
    given["profile"] = args.profile
    options = BenchOptions.quick(**given) if args.quick else BenchOptions(**given)
    out_dir = args.out or Path(settings.data_dir) / "bench"
    document = asyncio.run(run_bench(options, out_dir))
    print(document["text"])
    print(f"\nbench took {document['seconds']} s; JSON in {out_dir}/latest.json")
    return 0
