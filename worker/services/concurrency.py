"""Calls in flight per key (a sender, a citizen), capped without waiting.

`KeyedLimit.slot(key)` takes one of the key's `limit` slots for the duration of a
`with` block, or yields False at once when they are all taken: the caller answers
"busy" (429) instead of queueing, so one slow sender or one busy citizen holds at
most `limit` calls of a process and nobody waits behind them. One event loop per
process: no lock is needed; keys without a call in flight are forgotten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class KeyedLimit:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def in_flight(self, key: str) -> int:
        return self._held.get(key, 0)

    @contextlib.contextmanager
    def slot(self, key: str) -> Iterator[bool]:
        """True inside the block when a slot was taken; False when the key is full."""
        held = self._held.get(key, 0)
        if held >= self.limit:
            yield False
            return
        self._held[key] = held + 1
        try:
            yield True
        finally:
            left = self._held[key] - 1
            if left:
                self._held[key] = left
            else:
                del self._held[key]


class CallLimits:
    """Remote content calls in flight: per sender (service) and per citizen."""

    def __init__(self, per_sender: int, per_citizen: int) -> None:
        self.senders = KeyedLimit(per_sender)
        self.citizens = KeyedLimit(per_citizen)

    @contextlib.contextmanager
    def slot(self, service_id: str, fiscal_code: str) -> Iterator[bool]:
        """Both slots, or neither (False: one of them is full)."""
        with self.senders.slot(service_id) as sender, self.citizens.slot(fiscal_code) as own:
            yield sender and own
