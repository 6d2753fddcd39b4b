"""The one at-least-once consumer loop every role uses.

For each poll batch: the handler does its work and commits the database, then the
loop produces the handler's follow-up records and the batch's dead letters and awaits
every acknowledgement, and only then commits offsets (`offset + 1` per partition).
A crash anywhere before the offset commit redoes the batch; handlers are idempotent,
so redoing it is harmless. A handler that keeps working on records after their batch
(callbacks' background attempts) may hold the commit below them (`commit_bound`, see
`commits`): every commit the loop makes is then bounded by it.

Failures never stop a partition and never crash the loop (see `failures`).

Records not yet due (retry tiers) wait in their partition, paused: see `not_due`.

A record batch that cannot be decoded at all (a codec this client lacks, a corrupt
payload) goes to the DLQ as its offsets and the error, and the loop moves past it
(see `undecodable`): it never stops the partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from worker import logs, tracing
from worker.adapters.kafka import Publisher, all_partitions
from worker.adapters.kafka_batches import undecodable
from worker.consumers import observe, oversize
from worker.consumers import undecodable as undecodable_batches
from worker.consumers.commits import CommitBound, Commits
from worker.consumers.failures import Retrier, process
from worker.consumers.not_due import NotDue
from worker.core.batch import (
    BatchHandler,
    BatchResult,
    DeadLetter,
    dead_letter_record,
    dead_letter_stub,
    dlq_topic,
)
from worker.core.errors import RetryableError, UnpublishableError
from worker.core.records import OutRecord, Record
from worker.health import Pulse

log = logs.get("postino.consumer")

#: A batch this small is followed by the consumer's linger, if it has one.
LINGER_BELOW = 100
#: The longest an offset commit may hold a poll loop (see `ConsumerRunner.commit`).
COMMIT_TIMEOUT_SECONDS = 15.0
#: Given a batch's dead letters, record what they mean; returns records to produce.
DeadLetterHook = Callable[[Sequence[DeadLetter]], Awaitable[list[OutRecord]]]


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets a rebalance wait until the batch in hand is processed and committed (with a
    commit bound, up to the bound as it stands then)."""

    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._runner.batch_lock:
            await self._runner.revoked(revoked)
            log.info("partitions_revoked", role=self._runner.role, count=len(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._runner.forget(assigned)
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
        commit_bound: CommitBound | None = None,
        commit_interval: float = 0.0,
    ) -> None:
        self.role = role
        #: What was consumed and what may be committed per partition (paced, bounded).
        self._commits = Commits(commit_bound, commit_interval)
        self._commit_timeout = commit_timeout
        #: Liveness: beats on every poll and every retry; ended by `stop()`.
        self._pulse = pulse
        self.batch_lock = asyncio.Lock()
        self._consumer = consumer
        self._topics = list(topics)
        self._handler = handler
        self._publisher = publisher
        self._direct = direct
        self.due = NotDue(consumer, role, due_at, clock, resume_slack)
        #: Per partition: the offset after the last record processed and committed
        #: here (where a poll that lost its records must start again).
        self._next: dict[TopicPartition, int] = {}
        self._linger = linger
        self._on_dead_letters = on_dead_letters
        self._stop = asyncio.Event()
        self._retry = Retrier(role, self._stop, pulse, max_backoff)
        self._started = False
        self.processed = 0
        self._lag: dict[TopicPartition, int] = {}
        self.dead_lettered = 0

    @property
    def consumer(self) -> AIOKafkaConsumer:
        return self._consumer

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
            await self._flush_on_stop()
            await self._consumer.stop()
            log.info(
                "consumer_stopped",
                role=self.role,
                processed=self.processed,
                dead_lettered=self.dead_lettered,
            )

    async def _flush_on_stop(self) -> None:
        """What waited for the commit interval goes before the group is left (after
        the batch in hand: under the batch lock)."""
        try:
            async with self.batch_lock:
                await self.flush()
        except Exception as exc:  # leaving it uncommitted only means a redo
            log.warning("offset_commit_on_stop_failed", role=self.role, error=type(exc).__name__)

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
            if tp in self.due:
                continue
            highwater = self._consumer.highwater(tp)
            if highwater is None or await self._consumer.position(tp) < highwater:
                return False
        return True

    async def poll_once(self, timeout_ms: int) -> int:
        if self._pulse is not None:
            self._pulse.beat()
        self.due.resume_due()
        fetched, skipped = await self._fetch(self.due.poll_timeout(timeout_ms))
        batches, not_due = self.due.split(fetched)
        records = [r for recs in batches.values() for r in recs]
        if not records:
            self.due.pause(not_due)
            self._next.update({tp: offset for tp, (offset, _) in not_due.items()})
            async with self.batch_lock:
                await self.flush()  # idle: what waited for the interval, or a moved bound
            return skipped
        for tp, recs in batches.items():
            if recs:
                self._commits.started(tp, recs[0].offset)
        async with self.batch_lock:
            try:
                await self.handle(records)
            except Exception as exc:
                if not (self._stop.is_set() and isinstance(exc, RetryableError)):
                    raise
                # Told to stop while the broker or database is down: leave the batch
                # uncommitted; whoever owns the partition next redoes it.
                log.warning("batch_abandoned_on_stop", role=self.role, size=len(records))
                return 0
            offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items() if recs}
            await self.commit(offsets)
            self.due.pause(not_due)
            self._next.update({tp: offset for tp, (offset, _) in not_due.items()})
        self.processed += len(records)
        observe.quietly(lambda: observe.lag(self._consumer, self.role, self._lag, offsets))
        return len(records)

    async def _fetch(self, timeout_ms: int) -> tuple[dict[TopicPartition, list[Any]], int]:
        """The next records, and how many were processed on the way: a batch that cannot
        be decoded is dead-lettered and skipped here, the records before it processed."""
        try:
            fetched: dict[TopicPartition, list[Any]] = await self._consumer.getmany(
                timeout_ms=timeout_ms
            )
        except Exception as exc:
            if not undecodable(exc):
                raise
            async with self.batch_lock:
                handled = await undecodable_batches.skip(self, exc)
            self.processed += handled
            return {}, handled
        return fetched, 0

    def forget(self, partitions: Sequence[TopicPartition]) -> None:
        """Assigned anew: where this process left them is no longer where they are."""
        for tp in partitions:
            self._next.pop(tp, None)
        self._commits.forget(partitions)

    async def revoked(self, partitions: Sequence[TopicPartition]) -> None:
        """Before a rebalance takes `partitions` away (under the batch lock): commit them
        (up to the bound as it stands now); the next owner redoes what is still held."""
        timeout = self._commit_timeout
        await self._commits.commit_moved(self._consumer, partitions, self.role, timeout)
        self._commits.forget(partitions)

    async def resume_positions(self) -> dict[TopicPartition, int]:
        """Where each assigned partition not paused stands for this process: after the
        last record it processed, or the committed offset, or the log start."""
        positions: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            if tp in self.due:
                continue
            found = self._next.get(tp)
            if found is None:
                found = await self._consumer.committed(tp)
            if found is None:
                found = (await self._consumer.beginning_offsets([tp]))[tp]
            positions[tp] = found
        return positions

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Records below `offsets` are handled: commit them now, or with the next commit
        if one went less than the commit interval ago (see `commits.Commits`)."""
        self._next.update(offsets)
        self._commits.consumed(offsets)
        if self._commits.due(time.monotonic()):
            await self.flush()

    async def flush(self) -> None:
        """Commit every assigned partition's committable offset, where it moved, for at
        most `commit_timeout` seconds (see `commits.timed_commit`)."""
        assigned = self._consumer.assignment()
        await self._commits.commit_moved(self._consumer, assigned, self.role, self._commit_timeout)

    async def handle(self, records: list[Record], refused: Sequence[DeadLetter] = ()) -> None:
        """Process records (the handler, then follow-ups and dead letters, acknowledged);
        `refused` go to the DLQ beside them. Offsets are the caller's to commit."""
        spans = self._spans(records) if tracing.ENABLED else None
        if spans is None:
            await self._handle_batch(records, None, refused)
            return
        untraced = {id(r) for r, _ in spans.failed}
        refused = [*refused, *(DeadLetter(r, "tracing_failed", why) for r, why in spans.failed)]
        try:
            with spans.current():
                await self._handle_batch(
                    [r for r in records if id(r) not in untraced], spans, refused
                )
        except BaseException as exc:
            spans.end(exc)
            raise
        spans.end()

    def _spans(self, records: list[Record]) -> tracing.BatchSpans | None:
        """The batch's spans; None if even the batch span fails (the batch goes on
        untraced: tracing is never a reason to stop a loop)."""
        try:
            return tracing.BatchSpans(self.role, records)
        except Exception as exc:
            error = type(exc).__name__
            observe.quietly(lambda: log.error("batch_tracing_failed", role=self.role, error=error))
            return None

    async def _handle_batch(
        self, records: list[Record], spans: tracing.BatchSpans | None, refused: Sequence[DeadLetter]
    ) -> None:
        started = time.perf_counter()
        result = BatchResult(dead=list(refused))
        if records:
            batch = await self._retry(
                lambda: process(self._handler, records, self._retry), what="batch"
            )
            result.extend(batch)
        out = result.out + await self._settle_dead(result.dead)
        out += [dead_letter_record(d, dlq_topic(d.record.topic)) for d in result.dead]
        if spans is not None:
            out = spans.follow(out)
        try:
            await self._retry(lambda: self._publisher.publish_many(out), what="publish")
        except UnpublishableError as exc:
            await self._split_unpublishable(
                records, refused, result.dead, logs.safe_error_text(exc)
            )
            return
        self.dead_lettered += len(result.dead)
        observe.dead_lettered(self.role, result.dead)
        observe.batch_done(self.role, len(records), len(out), started)

    async def _split_unpublishable(
        self,
        records: list[Record],
        refused: Sequence[DeadLetter],
        dead: Sequence[DeadLetter],
        error: str,
    ) -> None:
        async def handle(batch: list[Record], dead: Sequence[DeadLetter]) -> None:
            await self._handle_batch(batch, None, dead)

        async def stub(dead: DeadLetter) -> None:
            record = dead_letter_stub(dead, dlq_topic(dead.record.topic))
            await self._retry(lambda: self._publisher.publish_many([record]), what="publish")
            self.dead_lettered += 1
            observe.dead_lettered(self.role, [dead])

        await oversize.split(self.role, records, refused, dead, error, handle=handle, stub=stub)

    async def _settle_dead(self, dead: list[DeadLetter]) -> list[OutRecord]:
        """The hook's follow-up records for this batch's dead letters (before the offset
        commit, so a crash redoes them). A hook that fails for good is logged; the dead
        letters still go to the DLQ and the loop goes on."""
        hook = self._on_dead_letters
        if not dead or hook is None:
            return []
        try:
            return await self._retry(lambda: hook(dead), what="dead_letters")
        except Exception as exc:
            if isinstance(exc, RetryableError):
                raise
            log.error(
                "dead_letter_hook_failed", role=self.role, count=len(dead), error=type(exc).__name__
            )
            return []
