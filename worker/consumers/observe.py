"""The consumer loop's logs and metrics about its records, which never stop it.

A log line or a metric that cannot be written (a processor that chokes on a value, a
registry in a bad state) is reported once, as well as it can be, and swallowed: the
records it is about are already processed or dead-lettered, and the loop goes on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker import logs, metrics
from worker.core.batch import DeadLetter

log = logs.get("postino.consumer")


def quietly(observe: Callable[[], object]) -> None:
    try:
        observe()
    except Exception as exc:
        with contextlib.suppress(Exception):
            log.error("observability_failed", error=type(exc).__name__)


def batch_done(role: str, consumed: int, produced: int, started: float) -> None:
    def observe() -> None:
        metrics.CONSUMED.labels(role=role).inc(consumed)
        metrics.PRODUCED.labels(role=role).inc(produced)
        metrics.BATCH_SECONDS.labels(role=role).observe(time.perf_counter() - started)

    quietly(observe)


def dead_lettered(role: str, dead: Sequence[DeadLetter]) -> None:
    """Count and log dead letters the broker has acknowledged."""
    for d in dead:
        quietly(lambda d=d: _dead_lettered(role, d))  # type: ignore[misc]


def _dead_lettered(role: str, dead: DeadLetter) -> None:
    metrics.DLQ_RECORDS.labels(topic=dead.record.topic, code=dead.code).inc()
    log.warning(
        "record_dead_lettered",
        role=role,
        topic=dead.record.topic,
        partition=dead.record.partition,
        offset=dead.record.offset,
        code=dead.code,
    )


def lag(
    consumer: AIOKafkaConsumer,
    role: str,
    lags: dict[TopicPartition, int],
    positions: dict[TopicPartition, int],
) -> None:
    """Lag from the fetch high watermark, as Kafka's own consumers compute it (and
    Tansu's end_offsets() under-reports); `lags` keeps each partition's last figure."""
    for tp, position in positions.items():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            lags[tp] = max(highwater - position, 0)
    for topic in {tp.topic for tp in positions}:
        total = sum(n for tp, n in lags.items() if tp.topic == topic)
        metrics.LAG.labels(role=role, topic=topic).set(total)
