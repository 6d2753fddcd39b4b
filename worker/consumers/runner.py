"""The one at-least-once consumer loop every role uses.

For each poll batch: the handler does its work and commits the database, then the
loop produces the handler's follow-up records and the batch's dead letters and awaits
every acknowledgement, and only then commits offsets (`offset + 1` per partition).
A crash anywhere before the offset commit redoes the batch; handlers are idempotent,
so redoing it is harmless.

Failures never stop a partition and never crash the loop:
- a `RetryableError` (database or broker unreachable) retries the same batch with a
  growing pause until it succeeds or the process is told to stop;
- any other exception splits the batch and retries record by record; a record that
  still fails goes to `<topic>.dlq` with the reason in its headers.

Records that are not yet due (retry tiers, given a `due_at` function): the loop
hands the handler only the due prefix of each partition, commits up to the first
record not yet due, seeks back to it and pauses that partition alone until its due
time, plus a slack (`resume_slack`, at most a tenth of that record's own delay): the
fetch after the pause then takes every record that came due meanwhile, instead of
re-reading the tier for each record as it comes due. Nothing sleeps: other partitions
and topics keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from worker import logs, metrics, tracing
from worker.adapters.kafka import Publisher, all_partitions, record_from_consumer
from worker.core.backoff import Backoff
from worker.core.batch import BatchHandler, BatchResult, DeadLetter, dead_letter_record, dlq_topic
from worker.core.errors import RetryableError
from worker.core.records import OutRecord, Record
from worker.health import Pulse
from worker.logs import safe_error_text

log = logs.get("postino.consumer")

#: A batch this small is followed by the consumer's linger, if it has one.
LINGER_BELOW = 100
#: The longest an offset commit may hold a poll loop (see `ConsumerRunner._commit`).
COMMIT_TIMEOUT_SECONDS = 15.0
#: Given a batch's dead letters, record what they mean; returns records to produce.
DeadLetterHook = Callable[[Sequence[DeadLetter]], Awaitable[list[OutRecord]]]
T = TypeVar("T")


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a rebalance wait until the batch in hand is processed and committed."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._runner.batch_lock:
            log.info("partitions_revoked", role=self._runner.role, count=len(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions_assigned", role=self._runner.role, count=len(assigned))


class ConsumerRunner:
    """Runs one handler over some topics with at-least-once semantics."""

    def __init__(
        self,
        *,
        role: str,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        handler: BatchHandler,
        publisher: Publisher,
        direct: bool = False,
        max_backoff: float = 5.0,
        due_at: Callable[[Record], float | None] | None = None,
        clock: Callable[[], float] = time.time,
        on_dead_letters: DeadLetterHook | None = None,
        pulse: Pulse | None = None,
        resume_slack: float = 0.0,
        linger: float = 0.0,
        commit_timeout: float = COMMIT_TIMEOUT_SECONDS,
    ) -> None:
        self.role = role
        self._commit_timeout = commit_timeout
        #: Liveness: beats on every poll and every retry; ended by `stop()`.
        self._pulse = pulse
        self.batch_lock = asyncio.Lock()
        self._consumer = consumer
        self._topics = list(topics)
        self._handler = handler
        self._publisher = publisher
        self._direct = direct
        self._max_backoff = max_backoff
        self._due_at = due_at
        self._resume_slack = resume_slack
        self._linger = linger
        self._clock = clock
        self._on_dead_letters = on_dead_letters
        #: Partitions paused on a record not yet due -> when to resume (epoch seconds).
        self._paused: dict[TopicPartition, float] = {}
        self._stop = asyncio.Event()
        self._started = False
        self.processed = 0
        self._lag: dict[TopicPartition, int] = {}
        self.dead_lettered = 0

    async def start(self) -> None:
        if self._started:
            return
        await self._consumer.start()
        if self._direct:
            self._consumer.assign(await all_partitions(self._consumer, self._topics))
        else:
            self._consumer.subscribe(self._topics, listener=_Revocations(self))
        self._started = True
        log.info("consumer_started", role=self.role, topics=self._topics, direct=self._direct)

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        """Idempotent: stop fetching and leave the group (the batch in hand is done)."""
        self._stop.set()
        if self._pulse is not None:
            self._pulse.end()
        if self._started:
            self._started = False
            await self._consumer.stop()
            log.info(
                "consumer_stopped",
                role=self.role,
                processed=self.processed,
                dead_lettered=self.dead_lettered,
            )

    async def run(self) -> None:
        """Consume until `request_stop()`; the batch in hand is always finished."""
        await self.start()
        while not self._stop.is_set():
            handled = await self.poll_once(timeout_ms=200)
            if self._linger and 0 < handled < LINGER_BELOW:
                await self._linger_a_while()

    async def _linger_a_while(self) -> None:
        """Let records gather before the next poll (woken early by a stop)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._linger)

    async def run_until_idle(self, idle_polls: int = 2, timeout_ms: int = 100) -> int:
        """Drain mode for tests and tools: consume until nothing arrives; returns count."""
        await self.start()
        count, idle = 0, 0
        while idle < idle_polls and not self._stop.is_set():
            handled = await self.poll_once(timeout_ms=timeout_ms)
            count += handled
            idle = 0 if handled else idle + 1
        return count

    async def caught_up(self) -> bool:
        """Drain mode: has every assigned partition not waiting for a due record been
        read up to its high watermark? False until a first fetch reported one (a slow
        first fetch must not look like an empty topic)."""
        for tp in self._consumer.assignment():
            if tp in self._paused:
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is None or await self._consumer.position(tp) < highwater:
                return False
        return True

    async def poll_once(self, timeout_ms: int) -> int:
        if self._pulse is not None:
            self._pulse.beat()
        self._resume_due_partitions()
        fetched = await self._consumer.getmany(timeout_ms=self._poll_timeout(timeout_ms))
        batches, not_due = self._split_not_due(fetched)
        records = [r for recs in batches.values() for r in recs]
        if not records:
            self._pause_not_due(not_due)
            return 0
        async with self.batch_lock:
            try:
                await self._handle(records)
            except Exception as exc:
                if not (self._stop.is_set() and isinstance(exc, RetryableError)):
                    raise
                # Told to stop while the broker or database is down: leave the batch
                # uncommitted; whoever owns the partition next redoes it.
                log.warning("batch_abandoned_on_stop", role=self.role, size=len(records))
                return 0
            offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items() if recs}
            await self._commit(offsets)
            self._pause_not_due(not_due)
        self.processed += len(records)
        self._record_lag(offsets)
        return len(records)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit, for at most `commit_timeout` seconds. aiokafka retries a retriable
        commit error for ever (a coordinator that keeps dropping the connection), which
        would hold the loop, and its stop, with it. Left uncommitted, these offsets are
        covered by the next batch's commit, or the batch is redone after a restart."""
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), self._commit_timeout)
        except TimeoutError:
            log.warning(
                "offset_commit_timed_out",
                role=self.role,
                partitions=len(offsets),
                seconds=self._commit_timeout,
            )

    def _record_lag(self, positions: dict[TopicPartition, int]) -> None:
        """Lag from the fetch high watermark (end_offsets() under-reports on this broker)."""
        for tp, position in positions.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None:
                self._lag[tp] = max(highwater - position, 0)
        for topic in {tp.topic for tp in positions}:
            total = sum(lag for tp, lag in self._lag.items() if tp.topic == topic)
            metrics.LAG.labels(role=self.role, topic=topic).set(total)

    def _split_not_due(
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

    def _resume_at(self, record: Record, due: float) -> float:
        """When to fetch a paused partition again: its first record's due time, plus a
        slack of at most a tenth of that record's delay (so a short test delay stays
        short), never more than `resume_slack`."""
        delay = due - record.timestamp_ms / 1000 if record.timestamp_ms else 0.0
        return due + min(self._resume_slack, max(delay, 0.0) / 10)

    def _pause_not_due(self, not_due: dict[TopicPartition, tuple[int, float]]) -> None:
        for tp, (offset, due) in not_due.items():
            self._consumer.seek(tp, offset)
            self._consumer.pause(tp)
            self._paused[tp] = due
            log.debug("partition_paused", role=self.role, topic=tp.topic, partition=tp.partition)

    def _resume_due_partitions(self) -> None:
        if not self._paused:
            return
        now, assigned = self._clock(), self._consumer.assignment()
        for tp, due in list(self._paused.items()):
            if tp not in assigned:
                del self._paused[tp]  # moved to another consumer (rebalance)
            elif due <= now:
                del self._paused[tp]
                self._consumer.resume(tp)

    def _poll_timeout(self, timeout_ms: int) -> int:
        """Wake up in time to resume the first paused partition that comes due."""
        if not self._paused:
            return timeout_ms
        wait_ms = (min(self._paused.values()) - self._clock()) * 1000
        return max(0, min(timeout_ms, int(wait_ms) + 1))

    async def _handle(self, records: list[Record]) -> None:
        if not tracing.ENABLED:
            await self._handle_batch(records, None)
            return
        spans = tracing.BatchSpans(self.role, records)
        try:
            with spans.current():
                await self._handle_batch(records, spans)
        except BaseException as exc:
            spans.end(exc)
            raise
        spans.end()

    async def _handle_batch(self, records: list[Record], spans: tracing.BatchSpans | None) -> None:
        started = time.perf_counter()
        result = await self._with_retries(lambda: self._process(records), what="batch")
        out = result.out + await self._settle_dead(result.dead)
        out += [dead_letter_record(d, dlq_topic(d.record.topic)) for d in result.dead]
        if spans is not None:
            out = spans.follow(out)
        await self._with_retries(lambda: self._publisher.publish_many(out), what="publish")
        self.dead_lettered += len(result.dead)
        for d in result.dead:
            metrics.DLQ_RECORDS.labels(topic=d.record.topic, code=d.code).inc()
            log.warning(
                "record_dead_lettered",
                role=self.role,
                topic=d.record.topic,
                partition=d.record.partition,
                offset=d.record.offset,
                code=d.code,
            )
        metrics.CONSUMED.labels(role=self.role).inc(len(records))
        metrics.PRODUCED.labels(role=self.role).inc(len(out))
        metrics.BATCH_SECONDS.labels(role=self.role).observe(time.perf_counter() - started)

    async def _settle_dead(self, dead: list[DeadLetter]) -> list[OutRecord]:
        """The hook's follow-up records for this batch's dead letters (before the offset
        commit, so a crash redoes them). A hook that fails for good is logged; the dead
        letters still go to the DLQ and the loop goes on."""
        hook = self._on_dead_letters
        if not dead or hook is None:
            return []
        try:
            return await self._with_retries(lambda: hook(dead), what="dead_letters")
        except Exception as exc:
            if isinstance(exc, RetryableError):
                raise
            log.error(
                "dead_letter_hook_failed", role=self.role, count=len(dead), error=type(exc).__name__
            )
            return []

    async def _process(self, records: list[Record]) -> BatchResult:
        try:
            return await self._handler(records)
        except Exception as exc:
            if isinstance(exc, RetryableError):
                raise
            if len(records) == 1:
                return self._dead(records[0], exc)
            log.warning("batch_split", role=self.role, size=len(records), error=type(exc).__name__)
        result = BatchResult()
        for record in records:
            result.extend(await self._process_one(record))
        return result

    async def _process_one(self, record: Record) -> BatchResult:
        async def attempt() -> BatchResult:
            return await self._process([record])

        return await self._with_retries(attempt, what="record")

    def _dead(self, record: Record, exc: BaseException) -> BatchResult:
        log.error(
            "record_processing_failed",
            role=self.role,
            topic=record.topic,
            offset=record.offset,
            error=type(exc).__name__,
            # Frames only: an exception's text can quote the record (e.g. PostgreSQL's
            # "Failing row contains ..."), and records carry personal data.
            trace="".join(traceback.format_tb(exc.__traceback__, limit=5))[-1500:],
        )
        detail = f"{type(exc).__name__}: {safe_error_text(exc)}"
        return BatchResult(dead=[DeadLetter(record, "processing_error", detail)])

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Retry transient failures with a growing pause; never gives up while running."""
        backoff = Backoff(0.1, self._max_backoff)
        while True:
            try:
                return await attempt()
            except Exception as exc:
                if not isinstance(exc, RetryableError) or self._stop.is_set():
                    raise
                if self._pulse is not None:
                    self._pulse.beat()  # waiting out an outage on purpose is progress
                metrics.RETRIES.labels(role=self.role, what=what).inc()
                log.warning(
                    "transient_failure", role=self.role, what=what, error=safe_error_text(exc)
                )
                await asyncio.sleep(backoff.next())
