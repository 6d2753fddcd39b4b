"""Offset commits: bounded in time, and held below a handler's unfinished work.

`timed_commit`: aiokafka retries a retriable commit error for ever (a coordinator that
keeps dropping the connection), which would hold the poll loop, and its stop, with it;
so a commit gives up after a timeout. Left uncommitted, the offsets go with the next
commit, or the batch is redone after a restart.

`Commits` paces the commits (`POSTINO_KAFKA_COMMIT_INTERVAL_MS`) and, with a bound
(`ConsumerRunner(commit_bound=...)`), holds them:
A handler that keeps working on some records after their batch is done (callbacks'
first attempts run in the background) says, per partition, the offset of the first
record it still holds. The loop then commits per partition `min(first held offset,
last consumed offset + 1)` instead of `last + 1`, so a crash restarts the partition at
the first record that was not finished, and every record below a committed offset is
done for good. A held record never stops consumption: only the commit waits.

A record held before its partition was revoked may still be held when the partition
comes back to this process, further on (another owner took it over): the bound is
asked only about records at or after the first offset consumed since the partition was
assigned, and the loop never commits below what it committed already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError

from worker import logs

log = logs.get("postino.consumer")

#: (topic, partition, since) -> offset of the first record still held there at or after
#: offset `since`, or None.
CommitBound = Callable[[str, int, int], int | None]


async def timed_commit(
    consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], role: str, timeout: float
) -> bool:
    """Commit `offsets` for at most `timeout` seconds; True when the broker took them."""
    try:
        await asyncio.wait_for(consumer.commit(offsets), timeout)
    except TimeoutError:
        log.warning("offset_commit_timed_out", role=role, partitions=len(offsets), seconds=timeout)
        return False
    except CommitFailedError:
        # The group rebalanced under this batch (this member missed a heartbeat or the
        # poll interval, or another joined): its partitions may be someone else's now,
        # and that owner redoes the batch. The next poll rejoins.
        log.warning("offset_commit_lost_to_rebalance", role=role, partitions=len(offsets))
        return False
    return True


class Commits:
    """Per partition of one consumer: what was consumed, and what may be committed.

    `bound` (optional) holds the commit below a handler's unfinished records.
    `interval` paces the commits after batches: at most one per `interval` seconds
    (0: after every batch), the rest going with the next one, with an idle poll, a
    revocation or the stop. A crash redoes at most that much more; handlers are
    idempotent, and a commit is a write to the broker's offsets log for every batch
    otherwise (at a few records per fetch, one per few records)."""

    def __init__(self, bound: CommitBound | None = None, interval: float = 0.0) -> None:
        self._bound = bound
        self._interval = interval
        self._next_at = 0.0
        #: Last consumed offset + 1: what the loop would commit without a bound.
        self._consumed: dict[TopicPartition, int] = {}
        #: The first offset consumed since the partition was assigned.
        self._floor: dict[TopicPartition, int] = {}
        #: The last offset committed.
        self._committed: dict[TopicPartition, int] = {}

    def due(self, now: float) -> bool:
        """Whether a commit after a batch goes now (and if so, the next not before
        `interval` from now)."""
        if now < self._next_at:
            return False
        self._next_at = now + self._interval
        return True

    def started(self, tp: TopicPartition, first_offset: int) -> None:
        """A batch of `tp` begins at `first_offset` (notes the floor once per assignment)."""
        self._floor.setdefault(tp, first_offset)

    def consumed(self, offsets: dict[TopicPartition, int]) -> None:
        """Records below these offsets have been handled."""
        for tp, offset in offsets.items():
            if offset > self._consumed.get(tp, -1):
                self._consumed[tp] = offset

    def moved(self, assigned: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The offsets to commit now: per assigned partition, the bounded offset, where
        it is past the last one committed."""
        due: dict[TopicPartition, int] = {}
        for tp in assigned:
            consumed = self._consumed.get(tp)
            if consumed is None:
                continue
            offset = consumed
            if self._bound is not None:
                held = self._bound(tp.topic, tp.partition, self._floor.get(tp, 0))
                if held is not None and held < offset:
                    offset = held
            if offset > self._committed.get(tp, -1):
                due[tp] = offset
        return due

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    async def commit_moved(
        self,
        consumer: AIOKafkaConsumer,
        partitions: Iterable[TopicPartition],
        role: str,
        timeout: float,
    ) -> None:
        """Commit what `moved` says for these partitions (see `timed_commit`)."""
        offsets = self.moved(partitions)
        if offsets and await timed_commit(consumer, offsets, role, timeout):
            self.committed(offsets)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Assigned anew or revoked: this process's view of them no longer holds."""
        for tp in partitions:
            self._consumed.pop(tp, None)
            self._floor.pop(tp, None)
            self._committed.pop(tp, None)
