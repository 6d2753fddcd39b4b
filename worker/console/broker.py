"""What the console reads off the broker, with clients opened once per process.

`BrokerWatch` keeps one inspecting consumer (no group) and one admin client for the
life of the ingress, never one per request. Each `look()`:
- high watermarks of every topic from a fetch (not ListOffsets, see `kafka_offsets`), then
  the partitions are released so the idle client fetches nothing in between;
- lag per consumer group and topic: the group's committed offsets (one OffsetFetch
  per group through the admin client) against those watermarks. Groups are the real
  ones (`callbacks` and `callbacks-retry` are two), a group that never committed
  counts from the log start;
- the DLQs: records held, records not yet replayed (the `dlq-replay` group), and the
  newest dead letters, read once each (a small tail per partition kept in memory).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import CONSUMED, GROUP_TOPICS
from worker.adapters.kafka import all_partitions, record_from_consumer
from worker.adapters.kafka_client import client_options
from worker.adapters.kafka_offsets import high_watermarks, inspector
from worker.core.records import Record
from worker.services.attempts import safe_detail
from worker.settings import KafkaSettings

#: Consumer group (by role name, as `KafkaSettings.group` prefixes it) -> topics read.
#: A test keeps it equal to the runners the roles build.
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(t.value for t in topics) for group, topics in GROUP_TOPICS.items()
}
REPLAY_GROUP = "dlq-replay"
#: Dead letters kept per DLQ partition for the glance and the message search.
TAIL = 50
_READ_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """One dead letter as an operator may see it: no key, no body, detail masked."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    code: str
    detail: str | None
    original_topic: str | None
    original_partition: int | None
    original_offset: int | None
    message_id: str | None


def _text(record: Record, name: str) -> str | None:
    raw = record.header(name)
    return raw.decode(errors="replace") if raw is not None else None


def _number(record: Record, name: str) -> int | None:
    text = _text(record, name)
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _message_id(value: bytes | None) -> str | None:
    """The message id a dead letter concerns, when its value says (`id`/`message_id`)."""
    if not value:
        return None
    try:
        decoded = msgspec.json.decode(value)
    except msgspec.DecodeError:
        return None
    if not isinstance(decoded, dict):
        return None
    found = decoded.get("message_id") or decoded.get("id")
    return found if isinstance(found, str) and len(found) <= 64 else None


def dead_letter_view(record: Record, prefix: str) -> DeadLetterView:
    original = _text(record, "postino-original-topic")
    return DeadLetterView(
        topic=record.topic.removeprefix(prefix),
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp_ms,
        code=_text(record, "postino-error-code") or "unknown",
        detail=safe_detail(_text(record, "postino-error-detail")),
        original_topic=original.removeprefix(prefix) if original else None,
        original_partition=_number(record, "postino-original-partition"),
        original_offset=_number(record, "postino-original-offset"),
        message_id=_message_id(record.value),
    )


@dataclass(slots=True)
class BrokerLook:
    #: group -> topic -> records not yet committed by the group.
    lag: dict[str, dict[str, int]] = field(default_factory=dict)
    #: DLQ topic (base name) -> {"records": held, "pending": not yet replayed}.
    dlq: dict[str, dict[str, int]] = field(default_factory=dict)


class BrokerWatch:
    def __init__(self, bootstrap: str, kafka: KafkaSettings) -> None:
        self._bootstrap = bootstrap
        self._kafka = kafka
        self._looker: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._tails: dict[TopicPartition, deque[DeadLetterView]] = {}
        self._read_to: dict[TopicPartition, int] = {}

    async def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._looker is None:
            looker = inspector(self._kafka, self._bootstrap)
            await looker.start()
            self._looker = looker
        if self._admin is None:
            options = client_options(self._kafka, self._bootstrap, "console")
            admin = AIOKafkaAdminClient(**options, request_timeout_ms=5000)
            await admin.start()
            self._admin = admin
        return self._looker, self._admin

    async def close(self) -> None:
        looker, self._looker = self._looker, None
        admin, self._admin = self._admin, None
        if looker is not None:
            await looker.stop()
        if admin is not None:
            await admin.close()

    def _base(self, topic: str) -> str:
        return self._kafka.topics.base(topic)

    async def look(self) -> BrokerLook:
        looker, admin = await self._clients()
        ks = self._kafka
        names = [ks.topics.name(t) for t in CONSUMED]
        dlqs = [ks.topics.dlq(t) for t in CONSUMED]
        tps = await all_partitions(looker, names + dlqs)
        try:
            marks = await high_watermarks(looker, tps)
            dlq_tps = [tp for tp in tps if tp.topic in dlqs]
            starts = await looker.beginning_offsets(dlq_tps)
            await self._read_tails(looker, dlq_tps, marks, starts)
        finally:
            looker.unsubscribe()  # idle in between: no background fetches
        result = BrokerLook()
        for role, topics in CONSUMER_GROUPS.items():
            mine = [tp for tp in tps if self._base(tp.topic) in topics]
            done = await self._committed(admin, ks.group(role), mine)
            result.lag[role] = _lag_by_topic(mine, marks, done, self._base)
        replayed = await self._committed(admin, ks.group(REPLAY_GROUP), dlq_tps)
        for tp in dlq_tps:
            held = result.dlq.setdefault(self._base(tp.topic), {"records": 0, "pending": 0})
            held["records"] += marks[tp] - starts[tp]
            held["pending"] += marks[tp] - max(starts[tp], replayed.get(tp, 0))
        return result

    async def _committed(
        self, admin: AIOKafkaAdminClient, group: str, tps: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        if not tps:
            return {}
        found = await admin.list_consumer_group_offsets(group, partitions=tps)
        return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}

    async def _read_tails(
        self,
        looker: AIOKafkaConsumer,
        tps: list[TopicPartition],
        marks: dict[TopicPartition, int],
        starts: dict[TopicPartition, int],
    ) -> None:
        """Read each DLQ partition's records not read yet, at most the last `TAIL`."""
        todo = {
            tp: max(self._read_to.get(tp, 0), marks[tp] - TAIL, starts[tp])
            for tp in tps
            if marks[tp] > max(self._read_to.get(tp, 0), starts[tp])
        }
        if not todo:
            return
        looker.assign(list(todo))
        for tp, offset in todo.items():
            looker.seek(tp, offset)
        deadline = asyncio.get_running_loop().time() + _READ_SECONDS
        while todo and asyncio.get_running_loop().time() < deadline:
            batch = await looker.getmany(*todo, timeout_ms=100)
            for tp, records in batch.items():
                tail = self._tails.setdefault(tp, deque(maxlen=TAIL))
                for raw in records:
                    if raw.offset < marks[tp]:
                        tail.append(dead_letter_view(record_from_consumer(raw), self._prefix))
                        self._read_to[tp] = raw.offset + 1
            for tp in list(todo):
                if await looker.position(tp) >= marks[tp]:
                    self._read_to[tp] = marks[tp]
                    del todo[tp]

    @property
    def _prefix(self) -> str:
        return self._kafka.topic_prefix

    def dead_letters(self) -> list[DeadLetterView]:
        """Every dead letter kept, newest first."""
        found = [view for tail in self._tails.values() for view in tail]
        return sorted(found, key=lambda v: (v.timestamp_ms, v.offset), reverse=True)

    def dead_letters_of(self, message_id: str) -> list[DeadLetterView]:
        return [v for v in self.dead_letters() if v.message_id == message_id]


def _lag_by_topic(
    tps: Iterable[TopicPartition],
    marks: dict[TopicPartition, int],
    done: dict[TopicPartition, int],
    base: Any,
) -> dict[str, int]:
    lag: dict[str, int] = {}
    for tp in tps:
        topic = base(tp.topic)
        lag[topic] = lag.get(topic, 0) + max(0, marks[tp] - done.get(tp, 0))
    return lag
