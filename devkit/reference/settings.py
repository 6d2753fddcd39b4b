"""The settings reference page, rendered from the declarations in `worker.settings`."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from worker.settings import Settings
from worker.settings.declare import Setting, declared, sections

HEADER = """\
# Settings

<!-- Generated from worker/settings by `make reference`: edit the declarations, not this page. -->

Everything is set with `POSTINO_*` environment variables, read once at start. A bad
value stops the process at once with an error that names the variable
(`POSTINO_HTTP_PORT='x': expected an integer 0..65535`). An empty value counts as
unset. Durations are in seconds unless the name says otherwise. A secret can also come
from a mounted file: `POSTINO_<NAME>_FILE` holds its path (a trailing newline is
dropped; setting both is an error).
"""


def render() -> str:
    parts = [HEADER, *_section("General", Settings)]
    for _, title, cls in sections(Settings):
        parts.extend(_section(title, cls))
    return "\n".join(parts)


def _section(title: str, cls: type[Any]) -> Iterator[str]:
    yield f"## {title}\n"
    doc = inspect.getdoc(cls)
    if doc and not doc.startswith(f"{cls.__name__}("):  # dataclasses' generated docstring
        yield " ".join(doc.split()) + "\n"
    yield "| variable | type | default | description |"
    yield "|---|---|---|---|"
    for _, decl in declared(cls):
        yield f"| `{decl.env}` | {_type(decl)} | {_default(decl)} | {_description(decl)} |"
    yield ""


def _type(decl: Setting) -> str:
    what = decl.parser.what
    for article in ("a ", "an "):
        what = what.removeprefix(article)
    return what


def _default(decl: Setting) -> str:
    if decl.shown is not None:
        return decl.shown
    text = _value(decl.default)
    for profile, value in decl.profiles.items():
        text += f" ({profile}: {_value(value)})"
    if decl.fallback is not None:
        text += f" (or `{decl.fallback}`)"
    return text


def _value(value: object) -> str:
    if value is None:
        return "unset"
    if value in ("", ()):
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`" + ",".join(_number(v) for v in value) + "`"
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{_number(value)}`"


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and value >= 10:
        return str(int(value))
    return str(value)


def _description(decl: Setting) -> str:
    if decl.secret:
        return f"{decl.doc}; or `{decl.env}_FILE`"
    return decl.doc
