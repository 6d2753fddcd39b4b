"""Kafka requests per process, counted in aiokafka's client (bench only).

`install(path)` wraps `AIOKafkaConnection.send` so every request sent increments the
slot of its API key (0 Produce, 1 Fetch, 8 OffsetCommit, 12 Heartbeat, ...) in a small
memory-mapped file; `read(path)` reads the slots from any other process at any time,
without signals or a round trip. The cost is one integer increment per request.

`python -m devkit.bench.kafkacount <counts file> <module> [args]` runs
`python -m <module> [args]` with the counter installed: the bench starts every process
under test this way (`worker ingress`, `devkit.bench.bare_ingress`, ...), so production
code carries no counting.
"""

from __future__ import annotations

import mmap
import runpy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SLOTS = 128
API_NAMES = {
    0: "produce",
    1: "fetch",
    2: "list_offsets",
    3: "metadata",
    8: "offset_commit",
    9: "offset_fetch",
    10: "find_coordinator",
    11: "join_group",
    12: "heartbeat",
    13: "leave_group",
    14: "sync_group",
    18: "api_versions",
    19: "create_topics",
}

_keep: list[Any] = []  # the mapping lives as long as the process


def install(path: Path) -> Callable[[], None]:
    """Count every request this process sends from now on into `path`; returns the undo."""
    from aiokafka.conn import AIOKafkaConnection

    path.write_bytes(bytes(SLOTS * 8))
    with path.open("r+b") as f:
        mapped = mmap.mmap(f.fileno(), SLOTS * 8)
    slots = memoryview(mapped).cast("q")
    _keep.append((mapped, slots))
    original = AIOKafkaConnection.send

    def send(self: AIOKafkaConnection, request: Any, expect_response: bool = True) -> Any:
        slots[request.API_KEY % SLOTS] += 1
        return original(self, request, expect_response)

    AIOKafkaConnection.send = send

    def uninstall() -> None:
        AIOKafkaConnection.send = original

    return uninstall


def read(path: Path) -> dict[str, int]:
    """Requests sent so far by API name (non-zero only); {} before the file exists."""
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    values = memoryview(raw[: SLOTS * 8]).cast("q")
    return {API_NAMES.get(key, f"api_{key}"): n for key, n in enumerate(values) if n}


def delta(after: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def per_message(counts: Mapping[str, int], messages: int) -> dict[str, float]:
    """Requests per message: produce, fetch, and every other kind together."""
    n = max(messages, 1)
    other = sum(v for k, v in counts.items() if k not in ("produce", "fetch"))
    return {
        "produce": round(counts.get("produce", 0) / n, 3),
        "fetch": round(counts.get("fetch", 0) / n, 3),
        "other": round(other / n, 3),
    }


def main(argv: list[str]) -> None:
    install(Path(argv[0]))
    sys.argv = [argv[1], *argv[2:]]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
