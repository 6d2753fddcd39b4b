"""Running a role's loop over a fuzzed batch, and reading back what became of each
record: one producer for the whole batch, one loop drained until caught up, then a
canary produced after the batch and handled by that same loop (it is alive)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from worker.bootstrap import Runtime
from worker.consumers.runner import ConsumerRunner
from worker.core.records import OutRecord, Record
from worker.ids import record_id, upstream_id

#: How long a loop may take to catch up with a fuzzed batch (10,000 records on a
#: busy 2-core machine take well under a minute).
CATCH_UP_SECONDS = 600.0


class Traced(SpanExporter):
    """An in-process exporter that counts the spans and keeps none."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Any) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


@dataclass(frozen=True, slots=True)
class Loop:
    handled: int
    after: int
    seconds: float


async def until_caught_up(runner: ConsumerRunner, expected: int) -> int:
    """Run `runner` until it handled `expected` records and read its partitions to the
    end (or the deadline passes); the records handled."""
    deadline = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
    count = 0
    while asyncio.get_running_loop().time() < deadline:
        count += await runner.run_until_idle()
        if count >= expected and await runner.caught_up():
            break
    return count


async def consume_then_canary(
    runtime: Runtime,
    build: Callable[[Runtime], ConsumerRunner],
    batch: list[OutRecord],
    canary: list[OutRecord],
) -> Loop:
    """Produce `batch`, drain it with one loop of `build`, then the `canary` with the
    same loop; the records handled before and after."""
    await runtime.publisher.publish_many(batch)
    runner = build(runtime)
    started = time.perf_counter()
    try:
        handled = await until_caught_up(runner, len(batch))
        seconds = time.perf_counter() - started
        await runtime.publisher.publish_many(canary)
        after = await until_caught_up(runner, len(canary))
    finally:
        await runner.stop()
    return Loop(handled, after, seconds)


def dead_offsets(dead: list[Record]) -> dict[int, dict[int, bytes]]:
    """partition -> offset -> error code of each dead letter (each must have a code)."""
    codes: dict[int, dict[int, bytes]] = {}
    for record in dead:
        code = record.header("postino-error-code")
        assert code, "a DLQ record without an error code"
        partition = int(record.header("postino-original-partition") or b"-1")
        offset = int(record.header("postino-original-offset") or b"-1")
        codes.setdefault(partition, {})[offset] = code
    return codes


def field(value: bytes | None, name: str) -> Any:
    try:
        decoded = json.loads(value or b"")
    except (ValueError, RecursionError):
        return None
    return decoded.get(name) if isinstance(decoded, dict) else None


def ids_of(record: Record) -> set[str]:
    """The ids deliver may have stored `record` under: the id the ingress signed, an
    upstream id scoped to its service, or the one derived from the record's position."""
    explicit, service = field(record.value, "id"), field(record.value, "sender_service_id")
    found = {record_id(record.topic, record.partition, record.offset, record.timestamp_ms)}
    topic, partition, offset, stamp = (
        record.header(f"postino-original-{n}")
        for n in ("topic", "partition", "offset", "timestamp")
    )
    if topic is not None and partition is not None and offset is not None and stamp is not None:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            found.add(record_id(topic.decode(), int(partition), int(offset), int(stamp)))
    if isinstance(explicit, str):
        found.add(explicit)
        if isinstance(service, str):
            found.add(upstream_id(service, explicit))
    return found
