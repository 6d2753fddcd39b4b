"""`postino bench`: ceilings vs our ingress, deliver, end to end and the full pipeline."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit.extras import MissingExtraError, require_embedded
from worker.settings import Settings

if TYPE_CHECKING:
    from devkit.bench.ab import Side

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
    parser.add_argument(
        "--broker",
        choices=("auto", "kafka", "memory"),
        default="auto",
        help="auto: Apache Kafka when Java 17 is there, else Tansu in memory (memory)",
    )
    for name, (kind, text) in _FLAGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, help=text)
    ab = parser.add_argument_group("paired A/B runs (instead of the full bench)")
    for side in ("a", "b"):
        ab.add_argument(
            f"--ab-{side}",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"a setting of side {side.upper()} (repeatable)",
        )
        ab.add_argument(
            f"--ab-{side}-tree",
            type=Path,
            metavar="DIR",
            help=f"a checkout whose code side {side.upper()} runs (PYTHONPATH)",
        )
    ab.add_argument("--ab-scenario", choices=("e2e", "full"), default="e2e")
    ab.add_argument("--ab-rounds", type=int, default=3, help="rounds of A and B (default 3)")
    commands["bench"] = run


def _side(name: str, pairs: list[str], tree: Path | None) -> Side:
    from devkit.bench.ab import Side

    env = dict(pair.split("=", 1) for pair in pairs)
    return Side(name, env, tree)


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        require_embedded("bench")
    except MissingExtraError as exc:
        print(f"postino: {exc}", file=sys.stderr)
        return 2
    from devkit.bench.ab import run_ab
    from devkit.bench.harness import BenchOptions
    from devkit.bench.run import run_bench
    from worker import logs

    logs.configure("warning", settings.log_format)  # the table is the output

    given: dict[str, Any] = {n: getattr(args, n) for n in _FLAGS if getattr(args, n) is not None}
    given["profile"] = args.profile
    given["broker"] = args.broker
    out_dir = args.out or Path(settings.data_dir) / "bench"
    if args.ab_a or args.ab_b or args.ab_a_tree or args.ab_b_tree:
        options = BenchOptions.paired(**given)
        sides = (_side("A", args.ab_a, args.ab_a_tree), _side("B", args.ab_b, args.ab_b_tree))
        doc = asyncio.run(run_ab(options, out_dir, sides, args.ab_scenario, args.ab_rounds))
        print(doc["text"])
        print(f"\nA/B took {doc['seconds']} s; JSON in {out_dir}/ab-latest.json")
        return 0
    options = BenchOptions.quick(**given) if args.quick else BenchOptions(**given)
    document = asyncio.run(run_bench(options, out_dir))
    print(document["text"])
    print(f"\nbench took {document['seconds']} s; JSON in {out_dir}/latest.json")
    return 0
