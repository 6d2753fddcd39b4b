"""What a batch handler returns, dead letters, and the due header of retry-tier records."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from schemas.topics import DLQ_SUFFIX
from worker.core.records import OutRecord, Record
from worker.core.text_rules import body_problem

T = TypeVar("T")

#: Header of a retry-tier record: when it is due, in milliseconds since the epoch.
DUE_HEADER = "postino-due-at"


def due_from_header(record: Record) -> float | None:
    """The due time (epoch seconds) a retry-tier record carries, or None: due now."""
    raw = record.header(DUE_HEADER)
    if raw is None:
        return None
    try:
        return int(raw) / 1000
    except ValueError:
        return None


def due_header(due_epoch: float) -> tuple[str, bytes]:
    return (DUE_HEADER, str(int(due_epoch * 1000)).encode())


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: Record
    code: str
    detail: str


def decode_value(
    record: Record,
    decode: Callable[[bytes], T],
    invalid_code: str,
    *,
    multiline: Collection[str] = (),
) -> T | DeadLetter:
    """The record's value decoded, or its dead letter: `empty_record` (no value), the
    text rules' code (`nested_too_deep`, checked before any decoder recurses; a control
    character or an unpaired surrogate outside the `multiline` fields: docs/integrators/sending.md),
    `invalid_code` (JSON of the wrong shape) or `not_json` (not JSON, or not UTF-8)."""
    if record.value is None:
        return DeadLetter(record, "empty_record", "record has no value")
    problem = body_problem(record.value, multiline=multiline)
    if problem is not None:
        return DeadLetter(record, problem.code, problem.detail)
    try:
        return decode(record.value)
    except msgspec.ValidationError as exc:
        return DeadLetter(record, invalid_code, str(exc))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return DeadLetter(record, "not_json", str(exc)[:300])


@dataclass(slots=True)
class BatchResult:
    out: list[OutRecord] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)

    def extend(self, other: BatchResult) -> None:
        self.out += other.out
        self.dead += other.dead


BatchHandler = Callable[[Sequence[Record]], Awaitable[BatchResult]]


def dlq_topic(topic: str) -> str:
    """The dead-letter topic of a (full) topic name: the one naming rule."""
    return f"{topic}{DLQ_SUFFIX}"


def _origin(dead: DeadLetter) -> tuple[tuple[str, bytes], ...]:
    rec = dead.record
    return (
        ("postino-error-code", dead.code.encode()),
        ("postino-error-detail", dead.detail.encode()[:2000]),
        ("postino-original-topic", rec.topic.encode()),
        ("postino-original-partition", str(rec.partition).encode()),
        ("postino-original-offset", str(rec.offset).encode()),
        ("postino-original-timestamp", str(rec.timestamp_ms).encode()),
    )


def dead_letter_record(dead: DeadLetter, dlq: str) -> OutRecord:
    """The DLQ copy: original key and bytes, the error and the origin in headers."""
    rec = dead.record
    return OutRecord(dlq, rec.value or b"", rec.key, (*rec.headers, *_origin(dead)))


def dead_letter_stub(dead: DeadLetter, dlq: str) -> OutRecord:
    """The DLQ entry of a record whose full copy is over the broker's size limit: the
    error and the origin, without the record's bytes or headers (the original stays in
    its source topic, at the offset given, until that topic's retention)."""
    omitted = ("postino-value-omitted", b"over the broker's size limit")
    return OutRecord(dlq, b"", None, (*_origin(dead), omitted))
