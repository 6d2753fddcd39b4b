"""The pauses between tries of something that may stay down a while (a database, a
broker, a batch of writes): the first pause, doubling, at most `cap`, each drawn at
random between half and all of it (jitter), so processes that lost the same
dependency at the same moment do not come back to it in step."""

from __future__ import annotations

import random


class Backoff:
    """`next()` is the pause before the next try; `reset()` after a success."""

    def __init__(self, first: float, cap: float, *, jitter: float = 0.5) -> None:
        if not (first > 0 and cap > 0 and 0 <= jitter <= 1):
            raise ValueError("Backoff needs first > 0, cap > 0 and 0 <= jitter <= 1")
        self.first, self.cap, self.jitter = min(first, cap), cap, jitter
        self._base = self.first

    def next(self) -> float:
        base = self._base
        self._base = min(base * 2, self.cap)
        return base * (1 - self.jitter * random.random())  # noqa: S311 - spread, not a secret

    def reset(self) -> None:
        self._base = self.first
