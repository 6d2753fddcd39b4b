"""Records not yet due (retry tiers, given a `due_at` function) wait in their partition.

The consumer loop hands the handler only the due prefix of each partition, commits up
to the first record not yet due, seeks back to it and pauses that partition alone
until its due time, plus a slack (`resume_slack`, at most a tenth of that record's own
delay): the fetch after the pause then takes every record that came due meanwhile,
instead of re-reading the tier for each record as it comes due. Nothing sleeps: other
partitions and topics keep flowing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from worker import logs
from worker.adapters.kafka import record_from_consumer
from worker.core.records import Record

log = logs.get("postino.consumer")


class NotDue:
    """The partitions of one consumer paused on a record not yet due."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        role: str,
        due_at: Callable[[Record], float | None] | None,
        clock: Callable[[], float],
        resume_slack: float,
    ) -> None:
        self._consumer = consumer
        self._role = role
        self._due_at = due_at
        self._clock = clock
        self._resume_slack = resume_slack
        #: Paused partition -> when to resume it (epoch seconds).
        self._paused: dict[TopicPartition, float] = {}

    def __contains__(self, tp: TopicPartition) -> bool:
        return tp in self._paused

    def split(
        self, fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> tuple[dict[TopicPartition, list[Record]], dict[TopicPartition, tuple[int, float]]]:
        """Per partition: the due prefix, and (offset, resume time) of the first record
        not due. Records past the first one not due are not even converted (they are
        fetched again on resume)."""
        batches: dict[TopicPartition, list[Record]] = {}
        not_due: dict[TopicPartition, tuple[int, float]] = {}
        due_at = self._due_at
        if due_at is None:
            for tp, raw in fetched.items():
                batches[tp] = [record_from_consumer(r) for r in raw]
            return batches, not_due
        now = self._clock()
        for tp, raw in fetched.items():
            records: list[Record] = []
            for consumed in raw:
                record = record_from_consumer(consumed)
                due = due_at(record)
                if due is not None and due > now:
                    not_due[tp] = (record.offset, self._resume_at(record, due))
                    break
                records.append(record)
            batches[tp] = records
        return batches, not_due

    def due_prefix(
        self,
        tp: TopicPartition,
        records: Sequence[Record],
        not_due: dict[TopicPartition, tuple[int, float]],
    ) -> list[Record]:
        """The records before the first one not due (noted in `not_due`, as `split` does)."""
        due_at = self._due_at
        if due_at is None:
            return list(records)
        now = self._clock()
        for i, record in enumerate(records):
            due = due_at(record)
            if due is not None and due > now:
                not_due[tp] = (record.offset, self._resume_at(record, due))
                return list(records[:i])
        return list(records)

    def _resume_at(self, record: Record, due: float) -> float:
        """When to fetch a paused partition again: its first record's due time, plus a
        slack of at most a tenth of that record's delay (so a short test delay stays
        short), never more than `resume_slack`."""
        delay = due - record.timestamp_ms / 1000 if record.timestamp_ms else 0.0
        return due + min(self._resume_slack, max(delay, 0.0) / 10)

    def pause(self, not_due: dict[TopicPartition, tuple[int, float]]) -> None:
        for tp, (offset, due) in not_due.items():
            self._consumer.seek(tp, offset)
            self._consumer.pause(tp)
            self._paused[tp] = due
            log.debug("partition_paused", role=self._role, topic=tp.topic, partition=tp.partition)

    def resume_due(self) -> None:
        if not self._paused:
            return
        now, assigned = self._clock(), self._consumer.assignment()
        for tp, due in list(self._paused.items()):
            if tp not in assigned:
                del self._paused[tp]  # moved to another consumer (rebalance)
            elif due <= now:
                del self._paused[tp]
                self._consumer.resume(tp)

    def poll_timeout(self, timeout_ms: int) -> int:
        """Wake up in time to resume the first paused partition that comes due."""
        if not self._paused:
            return timeout_ms
        wait_ms = (min(self._paused.values()) - self._clock()) * 1000
        return max(0, min(timeout_ms, int(wait_ms) + 1))
