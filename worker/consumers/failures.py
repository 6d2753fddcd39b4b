"""What a failure does in the consumer loop: it never stops a partition, never crashes
the loop.

- A `RetryableError` (database or broker unreachable) retries the same step with a
  growing pause (`Backoff`) until it succeeds or the process is told to stop.
- Any other exception splits the batch and retries record by record; a record that
  still fails becomes a dead letter (`<topic>.dlq`, the reason in its headers).
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeVar

from worker import logs, metrics
from worker.consumers import observe
from worker.core.backoff import Backoff
from worker.core.batch import BatchHandler, BatchResult, DeadLetter
from worker.core.errors import RetryableError
from worker.core.records import Record
from worker.health import Pulse
from worker.logs import safe_error_text

log = logs.get("postino.consumer")
T = TypeVar("T")


class Retrier:
    """Runs a step again on `RetryableError`; never gives up while running."""

    def __init__(
        self, role: str, stop: asyncio.Event, pulse: Pulse | None, max_backoff: float
    ) -> None:
        self.role = role
        self._stop = stop
        self._pulse = pulse
        self._max_backoff = max_backoff

    async def __call__(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        backoff = Backoff(0.1, self._max_backoff)
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not isinstance(exc, RetryableError) or self._stop.is_set():
                    raise
                if self._pulse is not None:
                    self._pulse.beat()  # waiting out an outage on purpose is progress
                metrics.RETRIES.labels(role=self.role, what=what).inc()
                log.warning(
                    "transient_failure", role=self.role, what=what, error=safe_error_text(exc)
                )
                await asyncio.sleep(backoff.next())


async def process(handler: BatchHandler, records: list[Record], retry: Retrier) -> BatchResult:
    """The handler's result for `records`; on a failure that is not transient, the
    batch split record by record, and what still fails dead-lettered."""
    try:
        return await handler(records)
    except Exception as exc:
        if isinstance(exc, RetryableError):
            raise
        if len(records) == 1:
            return _dead(records[0], exc, retry)
        log.warning("batch_split", role=retry.role, size=len(records), error=type(exc).__name__)
    result = BatchResult()
    for record in records:
        result.extend(await _process_one(handler, record, retry))
    return result


async def _process_one(handler: BatchHandler, record: Record, retry: Retrier) -> BatchResult:
    async def attempt() -> BatchResult:
        return await process(handler, [record], retry)

    return await retry(attempt, what="record")


def _dead(record: Record, exc: BaseException, retry: Retrier) -> BatchResult:
    def report() -> None:
        log.error(
            "record_processing_failed",
            role=retry.role,
            topic=record.topic,
            offset=record.offset,
            error=type(exc).__name__,
            # Frames only: an exception's text can quote the record (e.g. PostgreSQL's
            # "Failing row contains ..."), and records carry personal data.
            trace="".join(traceback.format_tb(exc.__traceback__, limit=5))[-1500:],
        )

    observe.quietly(report)
    # A value nested deeper than the decoder (or anything walking it) can recurse.
    code = "nested_too_deep" if isinstance(exc, RecursionError) else "processing_error"
    detail = f"{type(exc).__name__}: {safe_error_text(exc)}"
    return BatchResult(dead=[DeadLetter(record, code, detail)])
