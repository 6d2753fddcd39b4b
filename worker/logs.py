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
import logging
import re
import secrets
import sys

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(level: str = "info", fmt: str = "json") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # aiokafka and asyncio log through the standard library; keep their warnings.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")


# An e-mail address starts where a run of its characters starts (the look-behind), so
# a long run without "@" is tried once, not from each of its characters.
_PERSONAL = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
    r"|(?<![\w.%+-])[\w.%+-]+@[\w.-]+\.[A-Za-z]{2,}",
    re.IGNORECASE,
)
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
    return _PERSONAL.sub("[redacted]", first)[:limit]


def mask(fiscal_code: str) -> str:
    """A stable, non-reversible tag for a fiscal code, safe to log and to correlate:
    an HMAC under the mask secret, never a plain hash."""
    digest = hmac.new(_mask_key, fiscal_code.encode(), hashlib.sha256).hexdigest()
    return "fc:" + digest[:16]


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
