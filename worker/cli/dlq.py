"""`postino dlq list TOPIC` and `postino dlq replay TOPIC`: the operators' DLQ tools.

TOPIC is a consumed topic's base name (`messages.submitted`) or its DLQ's
(`messages.submitted.dlq`). Both tools track progress under one consumer group,
`<group prefix>.dlq-replay`, so `list` shows what is still to replay.

`replay` re-publishes each record to the topic named by its `postino-original-topic`
header, with its key, value and headers except the `postino-error-*` ones, awaits
the acks, and only then commits, so a re-run after a crash re-publishes at most the
last batch (consumers are idempotent) and a re-run after success does nothing. It
stops at the high watermark seen when it started: a record that fails again lands
back in the DLQ for the next run instead of looping.

Nothing personal is printed: keys that are fiscal codes are masked, bodies are not
shown, and of an error detail only its first line is, with fiscal codes and e-mail
addresses masked (database drivers append the failing row on the next lines).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.patterns import EMAIL_IN_TEXT, FISCAL_CODE_LIKE_IN_TEXT, is_fiscal_code
from schemas.topics import CONSUMED, DLQ_SUFFIX, Topic
from worker import logs
from worker.adapters import kafka
from worker.adapters.kafka import Publisher, all_partitions, record_from_consumer
from worker.adapters.kafka_offsets import committed, high_watermarks, inspector
from worker.cli import endpoints
from worker.core.records import OutRecord, Record
from worker.settings import ConfigError, KafkaSettings, Settings

REPLAY_ROLE = "dlq-replay"
ERROR_HEADER_PREFIX = "postino-error-"


def dlq_topic(ks: KafkaSettings, name: str) -> str:
    """The full DLQ topic name for a base topic name or DLQ name given by an operator."""
    base = ks.topics.base(name).removesuffix(DLQ_SUFFIX)
    for topic in CONSUMED:
        if topic.value == base:
            return ks.topics.dlq(topic)
    choices = ", ".join(t.value for t in CONSUMED)
    raise ConfigError(f"{name!r} is not a consumed topic with a DLQ; one of: {choices}")


def redact(text: str) -> str:
    text = FISCAL_CODE_LIKE_IN_TEXT.sub(lambda m: logs.mask(m.group(0)), text)
    return EMAIL_IN_TEXT.sub("<e-mail>", text)


@dataclass(slots=True)
class Listing:
    topic: str
    total: int = 0
    pending: int = 0
    records: list[Record] = field(default_factory=list)


@dataclass(slots=True)
class Replay:
    topic: str
    replayed: int = 0
    to_topics: dict[str, int] = field(default_factory=dict)
    #: (partition, offset, why) of records that were left in place.
    refused: list[tuple[int, int, str]] = field(default_factory=list)


async def _positions(
    consumer: AIOKafkaConsumer, topic: str
) -> tuple[list[TopicPartition], dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(partitions, high watermarks, replay positions), the consumer seeked to the latter."""
    tps = await all_partitions(consumer, [topic])
    marks = await high_watermarks(consumer, tps)
    done = await committed(consumer, tps)
    starts = await consumer.beginning_offsets(tps)
    positions = {tp: max(done.get(tp, 0), starts[tp]) for tp in tps}
    for tp, offset in positions.items():
        consumer.seek(tp, offset)
    return tps, marks, positions


async def _next_batch(
    consumer: AIOKafkaConsumer, marks: dict[TopicPartition, int]
) -> list[Record] | None:
    """The next records below the high watermarks; None once every partition reached its."""
    pending = [tp for tp, mark in marks.items() if await consumer.position(tp) < mark]
    if not pending:
        return None
    batch = await consumer.getmany(*pending, timeout_ms=200)
    got = [r for tp, recs in batch.items() for r in recs if r.offset < marks[tp]]
    return [record_from_consumer(r) for r in sorted(got, key=lambda r: (r.partition, r.offset))]


async def _read(
    consumer: AIOKafkaConsumer, marks: dict[TopicPartition, int], limit: int
) -> list[Record]:
    """At most `limit` records up to the high watermarks, in partition/offset order."""
    found: list[Record] = []
    idle = 0
    while idle < 5 and len(found) < limit:
        batch = await _next_batch(consumer, marks)
        if batch is None:
            break
        idle = 0 if batch else idle + 1
        found += batch
    found.sort(key=lambda r: (r.partition, r.offset))
    return found[:limit]


async def list_dlq(settings: Settings, name: str, limit: int = 10) -> Listing:
    ks, topic = settings.kafka, dlq_topic(settings.kafka, name)
    consumer = inspector(ks, _bootstrap(settings), ks.group(REPLAY_ROLE))
    await consumer.start()
    try:
        tps, marks, positions = await _positions(consumer, topic)
        starts = await consumer.beginning_offsets(tps)
        listing = Listing(topic)
        listing.total = sum(marks[tp] - starts[tp] for tp in tps)
        listing.pending = sum(max(0, marks[tp] - positions[tp]) for tp in tps)
        listing.records = await _read(consumer, marks, limit)
        return listing
    finally:
        await consumer.stop()


def _replayable(ks: KafkaSettings, record: Record) -> OutRecord | str:
    """The record to re-publish, or why it cannot be."""
    raw = record.header("postino-original-topic")
    original = raw.decode(errors="replace") if raw is not None else ""
    if original not in {ks.topics.name(t) for t in Topic}:
        return f"original topic {original!r} is not one of ours" if raw else "no original topic"
    headers = tuple((k, v) for k, v in record.headers if not k.startswith(ERROR_HEADER_PREFIX))
    return OutRecord(original, record.value or b"", record.key, headers)


async def replay_dlq(settings: Settings, name: str) -> Replay:
    ks, topic = settings.kafka, dlq_topic(settings.kafka, name)
    bootstrap = _bootstrap(settings)
    consumer = inspector(ks, bootstrap, ks.group(REPLAY_ROLE))
    producer = kafka.producer(ks, bootstrap, REPLAY_ROLE)
    await consumer.start()
    await producer.start()
    try:
        _, marks, _ = await _positions(consumer, topic)
        result, publisher, idle = Replay(topic), Publisher(producer), 0
        while idle < 5:
            batch = await _next_batch(consumer, marks)
            if batch is None:
                break
            idle = 0 if batch else idle + 1
            await _republish(ks, consumer, publisher, batch, result)
        return result
    finally:
        await producer.stop()
        await consumer.stop()


async def _republish(
    ks: KafkaSettings,
    consumer: AIOKafkaConsumer,
    publisher: Publisher,
    records: Sequence[Record],
    result: Replay,
) -> None:
    """Publish, await every ack, then commit; a refused record blocks its partition."""
    out: list[OutRecord] = []
    commits: dict[TopicPartition, int] = {}
    blocked = {partition for partition, _, _ in result.refused}
    for record in records:
        if record.partition in blocked:
            continue
        planned = _replayable(ks, record)
        if isinstance(planned, str):
            blocked.add(record.partition)
            result.refused.append((record.partition, record.offset, planned))
            continue
        out.append(planned)
        commits[TopicPartition(record.topic, record.partition)] = record.offset + 1
        result.to_topics[planned.topic] = result.to_topics.get(planned.topic, 0) + 1
    await publisher.publish_many(out)
    if commits:
        await consumer.commit(commits)
    result.replayed += len(out)


def _bootstrap(settings: Settings) -> str:
    bootstrap = settings.kafka.bootstrap
    if not bootstrap:
        raise ConfigError("POSTINO_KAFKA_BOOTSTRAP is required")
    return bootstrap


def _when(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="seconds")


def _key(key: bytes | None) -> str:
    if key is None:
        return "-"
    text = key.decode(errors="replace")
    return logs.mask(text) if is_fiscal_code(text) else redact(text)


def _detail(text: str) -> str:
    """The first line only: drivers append the failing row (personal data) below it."""
    first, _, rest = text.partition("\n")
    hidden = f" [{rest.count(chr(10)) + 1} more line(s) hidden]" if rest.strip() else ""
    return redact(first[:300]) + hidden


def format_listing(listing: Listing) -> str:
    lines = [f"{listing.topic}: {listing.total} record(s), {listing.pending} not yet replayed"]
    for rec in listing.records:
        header = {k: redact(v.decode(errors="replace")) for k, v in rec.headers}
        origin = (
            f"{header.get('postino-original-topic', '?')}"
            f"[{header.get('postino-original-partition', '?')}]"
            f"@{header.get('postino-original-offset', '?')}"
        )
        lines.append(
            f"  p{rec.partition}@{rec.offset}  {_when(rec.timestamp_ms)}"
            f"  code={header.get('postino-error-code', '?')}  from={origin}"
            f"  key={_key(rec.key)}  value={len(rec.value or b'')} bytes"
        )
        lines.append(f"      detail: {_detail(header.get('postino-error-detail', ''))}")
    return "\n".join(lines)


def format_replay(result: Replay) -> str:
    targets = ", ".join(f"{t} ({n})" for t, n in sorted(result.to_topics.items())) or "-"
    lines = [f"{result.topic}: replayed {result.replayed} record(s) to {targets}"]
    lines += [f"  left p{p}@{o}: {why}" for p, o, why in result.refused]
    return "\n".join(lines)


def _command(settings: Settings, args: argparse.Namespace) -> int:
    settings = endpoints.resolve(settings)
    if args.action == "list":
        print(format_listing(asyncio.run(list_dlq(settings, args.topic, args.limit))))
        return 0
    result = asyncio.run(replay_dlq(settings, args.topic))
    print(format_replay(result))
    return 1 if result.refused else 0


def register(sub: Any, commands: dict[str, Callable[..., int]]) -> None:
    parser = sub.add_parser("dlq", help="list or replay a dead-letter topic")
    parser.add_argument("action", choices=("list", "replay"))
    parser.add_argument("topic", help="e.g. messages.submitted (or messages.submitted.dlq)")
    parser.add_argument("--limit", type=int, default=10, help="records to show (list)")
    commands["dlq"] = _command
