"""`postino topics` (apply `deploy/topics.yaml`) and `postino lag` (consumer lag per
group and partition), the operators' Kafka tools. Both reach the broker with the
same security settings as the roles; neither needs HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.topics import GROUP_TOPICS, ConsumerGroup
from worker.adapters.kafka import all_partitions
from worker.adapters.kafka_offsets import committed, high_watermarks, inspector
from worker.adapters.kafka_topics import TopicsError, load_inventory, sync_topics
from worker.bootstrap import require_endpoints
from worker.cli import endpoints
from worker.settings import Settings

#: The topics each consumer group reads.


async def topics(
    settings: Settings, *, dry_run: bool, path: Path | None, show: Callable[[str], None]
) -> int:
    bootstrap, _ = require_endpoints(settings)
    try:
        changes = await sync_topics(
            settings.kafka, bootstrap, dry_run=dry_run, inventory=load_inventory(path), show=show
        )
    except TopicsError as exc:
        show(f"postino topics: {exc}")
        return 1
    if changes.empty:
        show("topics: nothing to change")
    elif dry_run:
        show("topics: dry run, nothing applied")
    else:
        show("topics: applied")
    return 0


@dataclass(frozen=True, slots=True)
class Lag:
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def behind(self) -> int:
        return self.end - (self.committed or 0)


async def lag(
    settings: Settings, groups: Sequence[ConsumerGroup] = tuple(GROUP_TOPICS)
) -> list[Lag]:
    """Per group and partition: committed offset, high watermark, records behind."""
    ks = settings.kafka
    bootstrap, _ = require_endpoints(settings)
    found: list[Lag] = []
    for group in groups:
        consumer = inspector(ks, bootstrap, ks.group(group))
        await consumer.start()
        try:
            tps = await all_partitions(consumer, [ks.topics.name(t) for t in GROUP_TOPICS[group]])
            marks = await high_watermarks(consumer, tps)
            done = await committed(consumer, tps)
            found += [
                Lag(ks.group(group), tp.topic, tp.partition, done.get(tp), marks[tp]) for tp in tps
            ]
        finally:
            await consumer.stop()
    return found


def format_lag(rows: Sequence[Lag]) -> str:
    lines = [f"{'group':<28} {'topic':<34} {'part':>4} {'committed':>10} {'end':>10} {'lag':>8}"]
    for r in rows:
        done = "-" if r.committed is None else str(r.committed)
        lines.append(
            f"{r.group:<28} {r.topic:<34} {r.partition:>4} {done:>10} {r.end:>10} {r.behind:>8}"
        )
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0) + r.behind
    lines.append("total: " + ", ".join(f"{g} {n}" for g, n in totals.items()))
    return "\n".join(lines)


def _topics_command(settings: Settings, args: argparse.Namespace) -> int:
    settings = endpoints.resolve(settings)
    return asyncio.run(topics(settings, dry_run=args.dry_run, path=args.file, show=print))


def _lag_command(settings: Settings, args: argparse.Namespace) -> int:
    settings = endpoints.resolve(settings)
    print(format_lag(asyncio.run(lag(settings, args.group or tuple(GROUP_TOPICS)))))
    return 0


def register(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    parser = sub.add_parser(
        "topics", help="create and configure the topics of deploy/topics.yaml (diff first)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the diff, change nothing")
    parser.add_argument("--file", type=Path, default=None, help="another topics.yaml")
    commands["topics"] = _topics_command
    parser = sub.add_parser("lag", help="consumer lag per group and partition")
    parser.add_argument(
        "--group", action="append", choices=sorted(GROUP_TOPICS), help="only these groups"
    )
    commands["lag"] = _lag_command
