"""The command-line reference: `postino --help` and every subcommand's help, as a
checkout's `postino` prints them (`dev` and `bench` exist in a checkout only)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from devkit.reference.markdown import BANNER

#: The width help is wrapped at: fixed, so the page does not depend on the terminal.
COLUMNS = "88"
_CHECKOUT_ONLY = ("dev", "bench")


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:  # argparse exposes subparsers only through its actions
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subcommands(sub, f"{prefix} {name}")


def render() -> str:
    from worker.__main__ import build_parser

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS
    try:
        parser, _ = build_parser()
        pages = [("postino", parser), *_subcommands(parser, "postino")]
        helps = [(name, sub.format_help()) for name, sub in pages]
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    parts = [
        BANNER.format(source="postino --help"),
        "# Command line\n",
        "One command, `postino`, for every role and tool; in production each container"
        " runs one role (`postino deliver`). "
        + ", ".join(f"`postino {n}`" for n in _CHECKOUT_ONLY)
        + " run from a checkout only (the `devkit` package beside `worker/`, not in the"
        " image). The `make` targets wrap the common ones (`make` alone lists them).\n",
    ]
    for name, text in helps:
        parts.append(f"## `{name}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts).rstrip() + "\n"
