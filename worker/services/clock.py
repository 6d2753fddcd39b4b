"""Where the current time comes from, so that rules and loops can be driven by tests.

A `Clock` is a function that returns the current instant, timezone-aware (UTC).
Every time-dependent rule takes one (or the `now` it returned) instead of calling
`datetime.now()`: production passes `utc_now`, tests a settable clock they move
forward, which walks days of schedule in milliseconds. Elapsed time (timeouts,
rates) is measured on `time.monotonic` instead, which a wall clock is not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock."""
    return datetime.now(UTC)
