"""The cluster chaos report: the books of every fault (`books.Row`: lost, stuck,
duplicates, missing and repeated pushes, mails and callbacks) plus, per fault:

- missing callbacks: accepted messages of the window the sender heard nothing about;
- first processed: seconds from the fault's start until the first message offered
  after it was in the inbox (`messages.processed_at`);
- p99 minute: the 99th percentile of offer -> inbox of the messages offered in the
  minute after the fault's start (client retries included: what a sender sees);
- recovered: seconds until every message offered since the start had its push and a
  fresh one went end to end within a few seconds (as in `make chaos`).

A row passes when nothing is lost, stuck, duplicated or missing, repeats stay within
the in-doubt bound, and its fault did not fail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.chaos.books import IN_DOUBT_BOUND, Offer, Row, _window
from tests.chaos.cluster_stack import ClusterStack

MINUTE = 60.0


@dataclass
class ClusterRow:
    books: Row
    missing_callbacks: int = 0
    first_processed_seconds: float = math.inf
    p99_minute_seconds: float = math.inf
    error: str | None = None

    @property
    def clean(self) -> bool:
        return self.books.clean and not self.missing_callbacks and self.error is None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self.books) | {
            "missing_callbacks": self.missing_callbacks,
            "first_processed_seconds": _finite(self.first_processed_seconds),
            "p99_minute_seconds": _finite(self.p99_minute_seconds),
            "passed": self.clean,
        }
        return out | ({"error": self.error} if self.error else {})


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 2)


@dataclass
class Report:
    rows: list[ClusterRow]
    offers: int
    accepted: int
    client_retries: int
    rate: float = 0.0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    kept: str | None = None

    def checks(self) -> list[tuple[str, bool]]:
        found = [(row.books.name, row.clean) for row in self.rows]
        return [*found, ("every offer accepted", self.accepted == self.offers)]

    @property
    def passed(self) -> bool:
        return all(ok for _, ok in self.checks())

    def verdict(self) -> str:
        checks = self.checks()
        good = sum(1 for _, ok in checks if ok)
        return f"{good} passed, {len(checks) - good} failed"

    def table(self) -> str:
        head = (
            f"{'fault':<46}{'offered':>8}{'lost':>5}{'stuck':>6}{'dup':>4}"
            f"{'miss p/m/cb':>12}{'again p/m/cb':>14}{'first s':>8}{'p99 1m s':>9}"
            f"{'recover s':>10}  ok"
        )
        lines = [head, "-" * len(head)]
        for row in self.rows:
            b = row.books
            missing = f"{b.missing_pushes}/{b.missing_mails}/{row.missing_callbacks}"
            again = f"{b.repeated_pushes}/{b.repeated_mails}/{b.repeated_callbacks}"
            lines.append(
                f"{b.name:<46}{b.offered:>8}{b.lost:>5}{b.stuck:>6}{b.duplicate_messages:>4}"
                f"{missing:>12}{again:>14}{row.first_processed_seconds:>8.1f}"
                f"{row.p99_minute_seconds:>9.1f}{b.recovery_seconds:>10.1f}"
                f"  {'yes' if row.clean else 'NO ' + (row.error or '')}"
            )
        lines.append(
            f"{self.accepted}/{self.offers} accepted ({self.client_retries} client retries)"
            f" at {self.rate:g} msg/s in {self.seconds:.0f} s; repeats allowed per fault:"
            f" {IN_DOUBT_BOUND} (in doubt)" + (f"; data kept in {self.kept}" if self.kept else "")
        )
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "rate": self.rate,
            "seconds": round(self.seconds),
            "offers": self.offers,
            "accepted": self.accepted,
            "client_retries": self.client_retries,
            "in_doubt_bound": IN_DOUBT_BOUND,
            "rows": [row.as_dict() for row in self.rows],
            "faults": self.details,
            "verdict": self.verdict(),
        }
        path.write_text(json.dumps(document, indent=2) + "\n")


async def _processed(url: str) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id, extract(epoch FROM processed_at)::float8 AS t FROM messages"
        )
    finally:
        await conn.close()
    return {r["id"]: float(r["t"]) for r in rows}


def _p99(values: Sequence[float]) -> float:
    if not values:
        return math.inf
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


async def recovery_rows(
    stack: ClusterStack,
    offers: Sequence[Offer],
    marks: Sequence[tuple[str, float]],
    rows: Sequence[Row],
) -> Report:
    processed = await _processed(stack.pg.url)
    told = set(stack.sinks.callback_message.values())
    out = [ClusterRow(row) for row in rows]
    for index, (_, started) in enumerate(marks):
        mine = [o for o in offers if _window(marks, o.offered) == index and o.message_id]
        row = out[index]
        row.missing_callbacks = sum(1 for o in mine if o.message_id not in told)
        done = [processed[o.message_id] for o in mine if o.message_id in processed]
        row.first_processed_seconds = min(done, default=math.inf) - started
        minute = [
            processed[o.message_id] - o.offered
            for o in mine
            if o.offered < started + MINUTE and o.message_id in processed
        ]
        row.p99_minute_seconds = _p99(minute)
    return Report(
        rows=out,
        offers=len(offers),
        accepted=sum(1 for o in offers if o.message_id is not None),
        client_retries=sum(o.attempts - 1 for o in offers),
    )
