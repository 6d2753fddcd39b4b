"""One sample of the soak every 10 s: memory and descriptors of every process, the
database's connections and size, consumer lag per group, and the latencies of what
completed since the previous sample (accept -> processed, accept -> push)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psutil

from tests.soak.load import Ledger
from tests.soak.stack import SoakStack
from worker.cli.topics import lag
from worker.settings import Settings

MB = 1024 * 1024


@dataclass
class Sample:
    t: float
    rss_mb: dict[str, float]
    fds: dict[str, int]
    pg_connections: int
    db_mb: float
    lag: dict[str, int]
    processed_p99: float | None
    push_p99: float | None
    offered: int
    accepted: int
    processed: int
    pushed: int
    mailed: int
    callbacks: int


def p99(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)], 3)


def process_usage(pid: int, with_children: bool) -> tuple[float, int]:
    """(RSS in MiB, open descriptors) of a process; with its children (PostgreSQL's
    backends), the sum of their unique set sizes instead (private memory): each
    backend's RSS counts the shared buffers it touched, so a sum of RSS would count
    them again and again, and grow as the buffers fill (bounded by `shared_buffers`:
    no leak); a leak in a backend is private memory."""
    try:
        root = psutil.Process(pid)
        procs = [root, *(root.children(recursive=True) if with_children else [])]
    except psutil.Error:
        return 0.0, 0
    rss, fds = 0, 0
    for proc in procs:
        try:
            rss += proc.memory_full_info().uss if with_children else proc.memory_info().rss
            fds += proc.num_fds()
        except psutil.Error:
            continue
    return round(rss / MB, 1), fds


class Tail:
    """The sinks' journal, read on from where the last call stopped."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def lines(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open("rb") as source:
            source.seek(self.offset)
            for line in source:
                if not line.endswith(b"\n"):
                    break
                self.offset += len(line)
                out.append(json.loads(line))
        return out


@dataclass
class Sampler:
    stack: SoakStack
    settings: Settings
    ledger: Ledger
    started: float = field(default_factory=time.time)
    processed: int = 0
    pushed: int = 0
    mailed: int = 0
    callbacks: int = 0

    def __post_init__(self) -> None:
        self.tail = Tail(self.stack.sinks.journal)

    async def sample(self, conn: asyncpg.Connection) -> Sample:
        rss, fds = {}, {}
        for name, pid in self.stack.pids().items():
            rss[name], fds[name] = process_usage(pid, with_children=name == "postgres")
        connections = await conn.fetchval("SELECT count(*) FROM pg_stat_activity")
        size = await conn.fetchval("SELECT pg_database_size(current_database())")
        behind: dict[str, int] = {}
        for row in await lag(self.settings):
            behind[row.group] = behind.get(row.group, 0) + max(row.behind, 0)
        return Sample(
            t=round(time.time() - self.started, 1),
            rss_mb=rss,
            fds=fds,
            pg_connections=int(connections),
            db_mb=round(int(size) / MB, 1),
            lag=behind,
            processed_p99=await self._processed(conn),
            push_p99=self._arrivals(),
            offered=self.ledger.offered,
            accepted=self.ledger.accepted,
            processed=self.processed,
            pushed=self.pushed,
            mailed=self.mailed,
            callbacks=self.callbacks,
        )

    async def _processed(self, conn: asyncpg.Connection) -> float | None:
        """Accept is the message's `created_at` (set by the ingress as it accepts, as
        the bench measures it): the client's `201` can come after the inbox row, when
        responses queue. A message's push is then timed from it too."""
        waiting, unpushed = self.ledger.unprocessed, self.ledger.unpushed
        rows = await conn.fetch(
            "SELECT id, extract(epoch FROM created_at)::float8 AS a,"
            " extract(epoch FROM processed_at)::float8 AS t FROM messages"
            " WHERE id = ANY($1::text[])",
            list(waiting),
        )
        latencies = []
        for row in rows:
            del waiting[row["id"]]
            latencies.append(max(row["t"] - row["a"], 0.0))
            if row["id"] in unpushed:
                unpushed[row["id"]] = row["a"]
        self.processed += len(latencies)
        return p99(latencies)

    def _arrivals(self) -> float | None:
        latencies = []
        for entry in self.tail.lines():
            kind, key, at = entry["k"], str(entry["id"]), float(entry["t"])  # type: ignore[arg-type]
            if kind == "push":
                sent = self.ledger.unpushed.pop(key, None)
                if sent is None:  # before its acceptance was recorded, or again
                    self.ledger.early.add((kind, key))
                else:
                    latencies.append(max(at - sent, 0.0))
                self.pushed += 1
            elif kind == "mail":
                if self.ledger.unmailed.pop(key, None) is None:
                    self.ledger.early.add((kind, key))
                self.mailed += 1
            elif kind == "cb":
                self.callbacks += 1
        return p99(latencies)
