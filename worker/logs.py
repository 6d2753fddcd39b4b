"""structlog set-up: JSON lines with stable event names and bound context.

Personal data never goes into a log: fiscal codes pass through `mask()` first, and
exception text through `safe_error_text()` (first line only, fiscal codes and e-mail
addresses redacted), because a driver error may quote a row.
"""

from __future__ import annotations

import hashlib
import logging
import sys

import structlog

from schemas.patterns import PERSONAL_IN_TEXT

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


def safe_error_text(exc: BaseException, limit: int = 300) -> str:
    """The first line of an error, with fiscal codes and e-mail addresses redacted."""
    first = str(exc).split("\n", 1)[0]
    return PERSONAL_IN_TEXT.sub("[redacted]", first)[:limit]


def mask(fiscal_code: str) -> str:
    """A stable, non-reversible tag for a fiscal code, safe to log and to correlate."""
    return "fc:" + hashlib.sha256(fiscal_code.encode()).hexdigest()[:12]


def get(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
