"""The records services see: `Record` (consumed) and `OutRecord` (to produce).

Plain dataclasses, detached from any Kafka client: the Kafka adapter converts to and
from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: Headers = ()

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce (full topic name, prefix applied)."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = field(default=())
