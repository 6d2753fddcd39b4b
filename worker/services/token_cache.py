"""Citizen tokens found unknown, remembered for a while: a client that retries a bad
or expired token gets its 401 without a PostgreSQL round trip each time.

Bounded in size (the oldest entry goes first) and in time (`ttl_seconds`). Only
unknown tokens are kept, never live ones: a session that is revoked or expires is
refused at once, and a token is random, so none that was unknown becomes valid (a
new session is a new token).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class UnknownTokens:
    def __init__(
        self,
        max_size: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_size = max_size
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._until: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def known_unknown(self, token_hash: bytes) -> bool:
        """Was this token found unknown less than `ttl_seconds` ago?"""
        until = self._until.get(token_hash)
        if until is None:
            return False
        if self.clock() >= until:
            del self._until[token_hash]
            return False
        return True

    def remember(self, token_hash: bytes) -> None:
        if self.max_size <= 0 or self.ttl_seconds <= 0:
            return
        self._until[token_hash] = self.clock() + self.ttl_seconds
        self._until.move_to_end(token_hash)
        while len(self._until) > self.max_size:
            self._until.popitem(last=False)
