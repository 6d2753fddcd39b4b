"""The `postino dev` and `postino bench` subcommands, added to the command line when
this package is importable (a checkout), absent from the production image."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from devkit import bench_cli
from devkit.extras import MissingExtraError, require_embedded
from worker.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]


def _cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    try:
        require_embedded("dev")
    except MissingExtraError as exc:
        print(f"postino: {exc}", file=sys.stderr)
        return 2
    from devkit.dev import run_dev

    return run_dev(settings, allow_external=args.allow_external)


def register(sub: Any, commands: dict[str, Command]) -> None:
    dev = sub.add_parser("dev", help="everything in one process on embedded PostgreSQL and Kafka")
    dev.add_argument(
        "--allow-external",
        action="store_true",
        help="run on the production profile or a POSTINO_DATABASE_URL (seeds demo data there)",
    )
    commands["dev"] = _cmd_dev
    bench_cli.register(sub, commands)
