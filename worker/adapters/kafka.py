"""Kafka through aiokafka: producer, consumers, topics, and the records we pass around.

Services never import aiokafka: they see `Record` (what was consumed) and `OutRecord`
(what to produce), the plain dataclasses of `worker.core.records`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from murmurhash2 import murmurhash2
from opentelemetry.trace import SpanKind

from worker import logs, tracing
from worker.adapters.kafka_client import client_options
from worker.adapters.kafka_security import refusal
from worker.core.errors import RetryableError, UnpublishableError
from worker.core.records import OutRecord, Record
from worker.settings import KafkaSettings

#: The broker's answers (and aiokafka's own check) for a record over a size limit:
#: the same bytes are refused again on every try.
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)

log = logs.get("postino.kafka")


def _messaging(topic: str) -> dict[str, str]:
    return {"messaging.system": "kafka", "messaging.destination.name": topic}


def record_from_consumer(rec: ConsumerRecord[bytes, bytes]) -> Record:
    """The consumed record, detached from aiokafka (its headers are kept as they are
    when every value is already `bytes`, as aiokafka hands them out)."""
    headers = rec.headers
    if headers:
        for _, value in headers:
            if type(value) is not bytes:
                # A header may have no value at all (null on the wire): an empty one.
                headers = tuple((k, b"" if v is None else bytes(v)) for k, v in headers)
                break
    else:
        headers = ()
    return Record(
        rec.topic,
        rec.partition,
        rec.offset,
        rec.key,
        rec.value,
        rec.timestamp,
        headers,
        rec.timestamp_type,
    )


def producer(settings: KafkaSettings, bootstrap: str, role: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings, bootstrap, role),
        acks="all",
        linger_ms=settings.producer_linger_ms(role),
        enable_idempotence=settings.enable_idempotence,
        compression_type=None if settings.compression == "none" else settings.compression,
        request_timeout_ms=30000,
    )


async def start_producer(settings: KafkaSettings, bootstrap: str, role: str) -> AIOKafkaProducer:
    """A started producer; `RetryableError` (and nothing left open) while the broker is
    unreachable."""
    started = producer(settings, bootstrap, role)
    try:
        await started.start()
    except KafkaError as exc:
        with contextlib.suppress(Exception):
            await started.stop()
        refused = await refusal(settings, bootstrap)
        if refused is not None:
            raise refused from exc
        raise RetryableError(f"broker {bootstrap} unreachable: {exc}") from exc
    return started


def consumer(
    settings: KafkaSettings, bootstrap: str, group_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer of group `group_id`; its client id names the role (the group's last part)."""
    options: dict[str, Any] = {
        **client_options(settings, bootstrap, group_id.rsplit(".", 1)[-1]),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.fetch_wait_ms,
        "fetch_min_bytes": settings.fetch_min_bytes,
        "max_poll_records": settings.max_poll_records,
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "rebalance_timeout_ms": max(settings.session_timeout_ms, settings.rebalance_timeout_ms),
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


_MURMUR2_SEED = 0x9747B28C  # Kafka's


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of a key, the value `aiokafka.partitioner.murmur2` gives (the
    default partitioner's), in C: 0.4 us instead of 5 us for a 26-byte id in Python."""
    return murmurhash2(data, _MURMUR2_SEED)


class Publisher:
    """Produces records and waits for the broker's acknowledgement (acks=all).

    Keyed records go to the partition aiokafka's default partitioner would pick
    (murmur2 of the key over the sorted partitions), computed here so a batch can be
    built per partition; records without a key get aiokafka's own (random) choice.
    """

    def __init__(
        self,
        kafka_producer: AIOKafkaProducer,
        restart: Callable[[], Awaitable[AIOKafkaProducer]] | None = None,
    ) -> None:
        self._restart = restart
        self._restarting = asyncio.Lock()
        #: Each topic's partitions, sorted: built once per cluster metadata version
        #: (every publish needs them; a metadata update empties this).
        self._sorted: dict[str, list[int]] = {}
        self._producer = self._watched(kafka_producer)

    def _watched(self, kafka_producer: AIOKafkaProducer) -> AIOKafkaProducer:
        self._sorted.clear()
        kafka_producer.client.cluster.add_listener(lambda _: self._sorted.clear())
        return kafka_producer

    def _replaceable(self) -> bool:
        """Whether the producer's background sender has died and `restart` can replace
        it. aiokafka ends that task for good on an unexpected error (seen under uvloop: a
        write on a connection the broker or the network had just reset), and every send
        after it fails: the process would stay up and refuse everything. Checked without
        an await: it is asked before every publish."""
        return self._restart is not None and _sender_died(self._producer)

    async def _replace(self) -> None:
        """A new producer takes over from the dead one (`_replaceable`); the records of
        the dead one's batches were never acknowledged, so their callers retry them."""
        async with self._restarting:
            if self._restart is None or not _sender_died(self._producer):
                return  # another caller replaced it meanwhile
            log.error("producer_sender_died", replacing=True)
            dead = self._producer
            self._producer = self._watched(await self._restart())
            with contextlib.suppress(Exception):
                await dead.stop()

    async def stop(self) -> None:
        """Stop the producer in use (the one `restart` may have put in place)."""
        await self._producer.stop()

    async def ping(self, timeout: float) -> None:
        """A metadata refresh over the producer's own connections (no new client);
        concurrent callers share one request. Raises `RetryableError` if it fails."""
        try:
            updated = await asyncio.wait_for(self._producer.client.force_metadata_update(), timeout)
        except (KafkaError, TimeoutError) as exc:
            raise RetryableError(f"broker metadata: {type(exc).__name__}") from exc
        if not updated:
            raise RetryableError("broker metadata: no broker answered")

    async def publish(self, record: OutRecord) -> tuple[int, int]:
        """Publish one record; returns (partition, offset) once acknowledged."""
        if not tracing.ENABLED:
            return await self._publish(record)
        with tracing.span(
            f"produce {record.topic}", kind=SpanKind.PRODUCER, attributes=_messaging(record.topic)
        ) as current:
            try:
                return await self._publish(tracing.with_context(record))
            except Exception as exc:
                tracing.failed(current, exc)
                raise

    async def _publish(self, record: OutRecord) -> tuple[int, int]:
        if self._replaceable():
            await self._replace()
        try:
            partitions = self._sorted.get(record.topic) or await self._partitions(record.topic)
            meta = await self._producer.send_and_wait(
                record.topic,
                record.value,
                key=record.key,
                partition=self._partition(record.topic, record.key, partitions),
                headers=list(record.headers),
            )
        except _TOO_LARGE as exc:
            raise UnpublishableError(f"a record for {record.topic}: {exc}") from exc
        except KafkaError as exc:
            raise RetryableError(f"publish to {record.topic} failed: {exc}") from exc
        return meta.partition, meta.offset

    async def publish_many(self, records: Sequence[OutRecord]) -> None:
        """Publish all, then await every acknowledgement (order kept per partition).

        One record batch per (topic, partition) rather than one `send` per record.
        """
        if not records:
            return
        if not tracing.ENABLED:
            await self._publish_many(records)
            return
        with tracing.span(
            f"produce {len(records)} records",
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(records)},
        ) as current:
            try:
                await self._publish_many([tracing.with_context(r) for r in records])
            except Exception as exc:
                tracing.failed(current, exc)
                raise

    async def _publish_many(self, records: Sequence[OutRecord]) -> None:
        if self._replaceable():
            await self._replace()
        try:
            groups = await self._by_partition(records)
            futures: list[asyncio.Future[Any]] = []
            for (topic, partition), group in groups.items():
                futures += await self._send_batches(topic, partition, group)
            await asyncio.gather(*futures)
        except _TOO_LARGE as exc:
            raise UnpublishableError(f"a record among {len(records)}: {exc}") from exc
        except KafkaError as exc:
            raise RetryableError(f"publish of {len(records)} records failed: {exc}") from exc

    async def _partitions(self, topic: str) -> list[int]:
        found = self._sorted.get(topic)
        if found is None:
            known = self._producer.client.cluster.partitions_for_topic(topic)
            found = sorted(known or await self._producer.partitions_for(topic))
            if known:
                self._sorted[topic] = found
        return found

    def _partition(self, topic: str, key: bytes | None, partitions: list[int]) -> int:
        if key is None:
            chosen: int = self._producer._partition(topic, None, None, None, None, None)
            return chosen
        return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]

    async def _by_partition(
        self, records: Sequence[OutRecord]
    ) -> dict[tuple[str, int], list[OutRecord]]:
        partitions = {t: await self._partitions(t) for t in {r.topic for r in records}}
        groups: dict[tuple[str, int], list[OutRecord]] = {}
        for r in records:
            tp = (r.topic, self._partition(r.topic, r.key, partitions[r.topic]))
            groups.setdefault(tp, []).append(r)
        return groups

    async def _send_batches(
        self, topic: str, partition: int, records: list[OutRecord]
    ) -> list[asyncio.Future[Any]]:
        """Records in order, in as many batches as they need (a full batch is sent)."""
        futures = []
        batch = self._producer.create_batch()
        for r in records:
            if _append(batch, r):
                continue
            # Full: send it and start the next one (an empty batch takes any record).
            futures.append(await self._producer.send_batch(batch, topic, partition=partition))
            batch = self._producer.create_batch()
            if not _append(batch, r):
                raise UnpublishableError(
                    f"record of {len(r.value)} bytes refused by an empty batch"
                )
        futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        return futures


def _sender_died(producer: AIOKafkaProducer) -> bool:
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task is not None and task.done()


def _append(batch: Any, record: OutRecord) -> bool:
    meta = batch.append(
        timestamp=None, key=record.key, value=record.value, headers=list(record.headers)
    )
    return meta is not None


def admin_client(
    settings: KafkaSettings, bootstrap: str, role: str = "admin", **overrides: Any
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings, bootstrap, role), **overrides)


async def wait_for_broker(settings: KafkaSettings, bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until the broker answers metadata requests."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = admin_client(settings, bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            await admin.close()
            return
        except Exception as exc:
            refused = await refusal(settings, bootstrap)
            if refused is not None:
                raise refused from exc
            if asyncio.get_running_loop().time() > deadline:
                raise RetryableError(f"broker {bootstrap} not reachable: {exc}") from exc
            await asyncio.sleep(0.1)


async def all_partitions(
    kafka_consumer: AIOKafkaConsumer, topics: Iterable[str]
) -> list[TopicPartition]:
    """Every partition of the topics (for direct assignment)."""
    found: list[TopicPartition] = []
    for topic in topics:
        for _ in range(50):
            parts = kafka_consumer.partitions_for_topic(topic)
            if parts:
                break
            await kafka_consumer._client.force_metadata_update()
            await asyncio.sleep(0.05)
        else:
            raise RetryableError(f"topic {topic} has no partitions (not created?)")
        found += [TopicPartition(topic, p) for p in sorted(parts)]
    return found
