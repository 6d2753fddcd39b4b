"""structlog set-up: JSON lines with stable event names and bound context.

Personal data never goes into a log: fiscal codes pass through `mask()` first (an
HMAC under a secret: few fiscal codes exist, so a plain hash would be reversed by
trying them all), and exception text through `safe_error_text()` (first line only,
cut to a bounded length before fiscal codes and e-mail addresses are redacted),
because a driver error may quote a row.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
from contextvars import ContextVar, Token
from typing import Any

import msgspec
import structlog

from schemas.patterns import PERSONAL_IN_TEXT

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
_info_enabled = True  # structlog's default, before `configure`


def configure(
    level: str = "info", fmt: str = "json", *, role: str | None = None, version: str | None = None
) -> None:
    """One stream of JSON lines (or console lines) on stderr for Postino's own events
    and for the standard library's loggers (aiokafka, asyncpg, asyncio, aiohttp...),
    each with `logger`, `level`, `timestamp`, the bound context (request, message and
    service ids), and the process's `role` and `version`."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    global _info_enabled
    _info_enabled = _LEVELS[level] <= logging.INFO
    process = {k: v for k, v in (("role", role), ("version", version)) if v is not None}

    def add_process(_: object, __: str, event: structlog.typing.EventDict) -> Any:
        event.update(process)
        return event

    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        merge_scope,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_process,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.add_logger_name,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_named_writer,
        cache_logger_on_first_use=True,
    )
    _route_stdlib(max(_LEVELS[level], logging.WARNING), shared, renderer)


_ENCODER = msgspec.json.Encoder(enc_hook=repr)


def _dumps(event: Any, **_: Any) -> str:
    """One line of JSON: msgspec (C speed; the stdlib's `json.dumps` was most of the
    cost of a log line, the ingress's per-request access line included). Values it
    cannot encode are written as their `repr`, like `json.dumps(default=repr)`; an
    event it refuses whole (a key that is not a string or a number) goes to the stdlib."""
    try:
        return _ENCODER.encode(event).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return json.dumps(event, default=repr)


def _route_stdlib(
    level: int, shared: list[structlog.typing.Processor], renderer: structlog.typing.Processor
) -> None:
    """The standard library's records through the same processors and renderer, their
    text redacted like an error's (a driver's warning may quote a row)."""

    def redact(_: object, __: str, event: structlog.typing.EventDict) -> Any:
        event["event"] = PERSONAL_IN_TEXT.sub("[redacted]", str(event.get("event", "")))[:2000]
        return event

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, redact, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


#: The ids of the request being served (`open_scope`): one dict in one context
#: variable, set once per request, instead of one context variable per id.
_SCOPE: ContextVar[dict[str, str] | None] = ContextVar("postino_log_scope", default=None)


def bind(**ids: str | None) -> None:
    """Bind ids (`request_id`, `message_id`, `service_id`) to every log line of the
    current task from now on (of the current request, inside `open_scope`); None
    values are skipped."""
    scope = _SCOPE.get()
    if scope is not None:
        for key, value in ids.items():
            if value is not None:
                scope[key] = value
        return
    if None in ids.values():
        ids = {k: v for k, v in ids.items() if v is not None}
    structlog.contextvars.bind_contextvars(**ids)


def bound(**ids: str | None) -> Any:
    """`bind` for the duration of a `with` block only."""
    return structlog.contextvars.bound_contextvars(
        **{k: v for k, v in ids.items() if v is not None}
    )


def clear() -> None:
    structlog.contextvars.clear_contextvars()


def open_scope(**ids: str) -> Token[dict[str, str] | None]:
    """Start a request's scope: `ids`, and whatever `bind` adds until `close_scope`,
    go on every log line of the request (one context variable set, not one per id,
    and nothing copied to clear it: the ingress serves thousands a second)."""
    return _SCOPE.set(ids)


def close_scope(token: Token[dict[str, str] | None]) -> None:
    _SCOPE.reset(token)


def merge_scope(_: object, __: str, event: structlog.typing.EventDict) -> Any:
    """The processor that adds the current scope's ids to a line (fields win)."""
    scope = _SCOPE.get()
    if scope:
        for key, value in scope.items():
            event.setdefault(key, value)
    return event


def context() -> dict[str, Any]:
    """What a line written now would carry from the bound context (tests)."""
    return {**(_SCOPE.get() or {}), **structlog.contextvars.get_contextvars()}


#: Text kept past the limit until redaction, so a value cut at the limit is still
#: whole when redacted (an e-mail address has at most 254 characters).
_REDACTION_MARGIN = 256
_mask_key: bytes = secrets.token_bytes(32)


def use_mask_secret(secret: str) -> None:
    """Key `mask()` with a secret every process shares (the id secret, or its own):
    the same fiscal code gets the same tag everywhere. Unset, a random per-process key."""
    global _mask_key
    _mask_key = hmac.new(secret.encode(), b"postino log mask", hashlib.sha256).digest()


def safe_error_text(exc: BaseException, limit: int = 300) -> str:
    """The first line of an error, cut, with fiscal codes and e-mail addresses redacted."""
    first = str(exc).split("\n", 1)[0][: limit + _REDACTION_MARGIN]
    return PERSONAL_IN_TEXT.sub("[redacted]", first)[:limit]


def mask(fiscal_code: str) -> str:
    """A stable, non-reversible tag for a fiscal code, safe to log and to correlate:
    an HMAC under the mask secret, never a plain hash."""
    digest = hmac.new(_mask_key, fiscal_code.encode(), hashlib.sha256).hexdigest()
    return "fc:" + digest[:16]


def get(name: str) -> structlog.stdlib.BoundLogger:
    """A logger whose lines say `"logger": name`."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


class InfoLog:
    """A logger of `info` lines that costs nothing more than a flag test when `info` is
    off (the ingress's access line, once per request: structlog's lazy proxy assembles
    its logger on every call, even one that is then dropped)."""

    def __init__(self, name: str) -> None:
        self._log = get(name)

    @property
    def enabled(self) -> bool:
        """Whether `info` writes (callers skip computing its fields when not)."""
        return _info_enabled

    def info(self, event: str, **fields: Any) -> None:
        if _info_enabled:
            self._log.info(event, **fields)


class _NamedWriter(structlog.WriteLogger):
    """A `WriteLogger` that knows its name (for `add_logger_name`)."""

    def __init__(self, name: str) -> None:
        super().__init__(sys.stderr)
        self.name = name


def _named_writer(*args: Any) -> _NamedWriter:
    return _NamedWriter(str(args[0]) if args else "postino")
