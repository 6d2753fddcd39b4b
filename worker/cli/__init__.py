"""Operator tools of the command line (dlq, contracts, topics): each registers itself here.

`postino dev` and `postino bench` come from the `devkit` package beside `worker/`, which
a checkout installs and the production image does not; without it they answer with one
line saying so.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def register_tools(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    """Add the operator subcommands. Each tool module owns its parser and its command."""
    from worker.cli import contracts

    contracts.register(sub, commands)
    from worker.cli import dlq

    dlq.register(sub, commands)
    from worker.cli import topics

    topics.register(sub, commands)


_DEVKIT_HINT = (
    "`postino {name}` runs from a checkout of Postino (`make run`, `make bench`): "
    "the development tools are not part of this installation"
)


def _missing_devkit(name: str) -> Callable[..., int]:
    def command(*_: object) -> int:
        print(f"postino: {_DEVKIT_HINT.format(name=name)}", file=sys.stderr)
        return 2

    return command


def register_devkit(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    """`dev` and `bench` from the devkit package when it is importable, else stand-ins
    that say where they live."""
    try:
        devkit = importlib.import_module("devkit.commands")
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("devkit"):
            raise
        for name in ("dev", "bench"):
            sub.add_parser(name, help=f"(in a checkout only) postino {name}")
            commands[name] = _missing_devkit(name)
        return
    devkit.register(sub, commands)
