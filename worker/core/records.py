"""The records services see: `Record` (consumed) and `OutRecord` (to produce).

Plain immutable values (msgspec structs: a fifth of a frozen dataclass's cost to
build, and every consumed record and follow-up record builds one), detached from any
Kafka client: the Kafka adapter converts to and from them.
"""

from __future__ import annotations

import msgspec

Headers = tuple[tuple[str, bytes], ...]


class Record(msgspec.Struct, frozen=True):
    """One consumed record."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: Headers = ()
    #: Kafka's timestamp type: 0 the producer's (CreateTime), 1 the broker's
    #: (LogAppendTime, when the topic says `message.timestamp.type=LogAppendTime`).
    timestamp_type: int = 0

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class OutRecord(msgspec.Struct, frozen=True):
    """One record to produce (full topic name, prefix applied)."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
