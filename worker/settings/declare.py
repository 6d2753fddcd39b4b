"""How a setting is declared: once, as a field of its section, with its variable,
default, parser and one-line description.

    port: int = setting("POSTINO_HTTP_PORT", 8080, integer(0, 65535), "port the ingress listens on")

The default is the field's default (so a section built in a test without the
environment has it too); the parser turns the variable's text into the value and says
what it expects, which is both the error message and the reference page's type column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.topics import RETRY_TIER_COUNT

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
S = TypeVar("S")


class ConfigError(ValueError):
    """A `POSTINO_*` variable has a value Postino cannot use."""


class Refused(ValueError):
    """A parser's own reason, reported instead of "expected <what>"."""


class Parser(Generic[T_co]):
    """Text to value. `what` completes "expected ..." in errors and names the type in
    the reference; a failing parse raises ValueError (or `Refused` with its reason)."""

    def __init__(self, what: str, parse: Callable[[str], T_co]) -> None:
        self.what = what
        self._parse = parse

    def __call__(self, raw: str) -> T_co:
        return self._parse(raw)


@dataclass(frozen=True, slots=True)
class Setting:
    """One `POSTINO_*` variable, as its section declares it."""

    env: str
    default: Any
    parser: Parser[Any]
    doc: str
    #: May come from the file `<env>_FILE` names instead (a mounted secret).
    secret: bool = False
    #: Defaults that differ by profile (`{"dev": ...}`), over `default`.
    profiles: Mapping[str, Any] = field(default_factory=dict)
    #: Unset: the value of this other variable, when that one is set.
    fallback: str | None = None
    #: Unset: computed at start (the host name), over `default`.
    computed: Callable[[], Any] | None = None
    #: How the reference shows a default that is not a plain value.
    shown: str | None = None

    def default_for(self, profile: str) -> Any:
        if self.computed is not None:
            return self.computed()
        return self.profiles.get(profile, self.default)


def setting(
    env: str,
    default: T,
    parser: Parser[T],
    doc: str,
    *,
    secret: bool = False,
    profiles: Mapping[str, T] | None = None,
    fallback: str | None = None,
    computed: Callable[[], T] | None = None,
    shown: str | None = None,
) -> T:
    """A section field read from `env` (the full `POSTINO_*` name)."""
    declared = Setting(
        env, default, parser, doc, secret, dict(profiles or {}), fallback, computed, shown
    )
    found: T = field(default=default, metadata={"setting": declared})
    return found


def section(cls: type[S], title: str) -> S:
    """A nested section of the settings, titled in the reference."""
    found: S = field(default_factory=cls, metadata={"section": title})
    return found


def declared(cls: type[Any]) -> Iterator[tuple[str, Setting]]:
    """The (attribute, declaration) pairs of a section, in declaration order."""
    for f in dataclasses.fields(cls):
        if "setting" in f.metadata:
            yield f.name, f.metadata["setting"]


def sections(cls: type[Any]) -> Iterator[tuple[str, str, type[Any]]]:
    """The (attribute, title, class) of each nested section."""
    for f in dataclasses.fields(cls):
        if "section" in f.metadata:
            assert callable(f.default_factory)  # noqa: S101 - `section()` sets it
            yield f.name, f.metadata["section"], f.default_factory  # type: ignore[misc]


# The parsers.


def text() -> Parser[str]:
    return Parser("text", str)


def choice(*choices: str) -> Parser[str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(raw)
        return raw

    return Parser(f"one of {', '.join(choices)}", parse)


def integer(minimum: int = 0, maximum: int | None = None) -> Parser[int]:
    bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"

    def parse(raw: str) -> int:
        value = int(raw)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(raw)
        return value

    return Parser(f"an integer {bound}", parse)


def number(minimum: float = 0.0) -> Parser[float]:
    def parse(raw: str) -> float:
        value = float(raw)
        if not value >= minimum:  # NaN too
            raise ValueError(raw)
        return value

    return Parser(f"a number >= {minimum}", parse)


def flag() -> Parser[bool]:
    def parse(raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)

    return Parser("true or false", parse)


def timezone() -> Parser[str]:
    def parse(raw: str) -> str:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(raw) from exc
        return raw

    return Parser("an IANA time zone", parse)


def directory() -> Parser[Path]:
    return Parser("a directory path", Path)


def existing_file() -> Parser[str]:
    """A file that must exist (read later, by the client that needs it)."""

    def parse(raw: str) -> str:
        if not Path(raw).is_file():
            raise Refused("no such file")
        return raw

    return Parser("the path of a file", parse)


def _parts(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def names() -> Parser[tuple[str, ...]]:
    return Parser("comma-separated values", lambda raw: tuple(_parts(raw)))


def delays() -> Parser[tuple[float, ...]]:
    """Retry-tier delays: at most one per tier, each > 0."""

    def parse(raw: str) -> tuple[float, ...]:
        found = tuple(float(part) for part in _parts(raw))
        if not found or any(not d > 0 for d in found) or len(found) > RETRY_TIER_COUNT:
            raise ValueError(raw)
        return found

    return Parser(f"comma-separated seconds, each > 0, at most {RETRY_TIER_COUNT}", parse)


def ports() -> Parser[tuple[int, ...]]:
    """Comma-separated ports, or `any` (the empty tuple)."""

    def parse(raw: str) -> tuple[int, ...]:
        if raw.strip().lower() == "any":
            return ()
        found = tuple(int(part) for part in _parts(raw))
        if not found or any(not 1 <= p <= 65535 for p in found):
            raise ValueError(raw)
        return found

    return Parser("ports (1..65535), comma-separated, or any", parse)
