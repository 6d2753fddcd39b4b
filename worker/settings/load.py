"""Build the settings from the environment, reading each declared variable once.

No I/O here, but for one exception: a secret may be given as `POSTINO_<NAME>_FILE`,
the path of a file holding it (a mounted Kubernetes or Docker secret), read once here.
An empty value counts as unset."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from worker.settings.declare import ConfigError, Refused, Setting, declared, sections
from worker.settings.production import check_production
from worker.settings.root import Settings

S = TypeVar("S")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (or the mapping given, for tests).
    A bad value raises `ConfigError` naming the variable; the production profile
    refuses weak secrets and loopback callbacks."""
    env = os.environ if environ is None else environ
    profile = read(env, _declaration(Settings, "profile"), "dev")
    settings = build(Settings, env, profile)
    check_production(settings)
    return settings


def build(cls: type[S], env: Mapping[str, str], profile: str) -> S:
    """A section (and its nested sections) from `env`, then its own `check()`."""
    values: dict[str, Any] = {name: read(env, decl, profile) for name, decl in declared(cls)}
    for name, _, nested in sections(cls):
        values[name] = build(nested, env, profile)
    built = cls(**values)
    check = getattr(built, "check", None)
    if check is not None:
        check()
    return built


def read(env: Mapping[str, str], decl: Setting, profile: str) -> Any:
    raw = _raw(env, decl.env)
    if decl.secret:
        raw = _secret(env, decl.env, raw)
    if raw is None and decl.fallback is not None:
        raw = _raw(env, decl.fallback)
    if raw is None:
        return decl.default_for(profile)
    shown = "(a secret, not shown)" if decl.secret else repr(raw)
    try:
        return decl.parser(raw)
    except Refused as exc:
        raise ConfigError(f"{decl.env}={shown}: {exc}") from None if decl.secret else exc
    except ValueError as exc:
        raise ConfigError(f"{decl.env}={shown}: expected {decl.parser.what}") from (
            None if decl.secret else exc
        )


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else None


def _secret(env: Mapping[str, str], name: str, value: str | None) -> str | None:
    """`value`, or the content of the file `<name>_FILE` names (trailing newline
    dropped); both set is an error."""
    path = _raw(env, f"{name}_FILE")
    if path is None:
        return value
    if value is not None:
        raise ConfigError(f"{name} and {name}_FILE: set one, not both")
    try:
        content = Path(path).read_text().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{name}_FILE={path!r}: cannot read it ({exc})") from exc
    return content or None


def _declaration(cls: type[Any], attribute: str) -> Setting:
    return dict(declared(cls))[attribute]
