"""Operator tools of the command line (dlq, contracts, bench): each registers itself here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register_tools(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    """Add the operator subcommands. Each tool module owns its parser and its command."""
    from worker.cli import bench

    bench.register(sub, commands)
    from worker.cli import contracts

    contracts.register(sub, commands)
    from worker.cli import dlq

    dlq.register(sub, commands)
    from worker.cli import topics

    topics.register(sub, commands)
