"""The callbacks' attempts in process: each in a task of its own, at most
`max_in_flight_per_service` per service at once, the others waiting behind their own
service's attempts (never behind anyone else's); and the first attempts' hold on the
offset commit of `messages.status` (`callback_held`), with its watchdog."""

from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timedelta

from worker import logs
from worker.core.records import OutRecord
from worker.services.callback_copy import CopyPublisher, publish_copies, retry_copy
from worker.services.callback_held import Held
from worker.services.callback_send import OUTCOMES, CallbackDeps, Job, given_up, post, settle
from worker.settings import CallbackSettings

log = logs.get("postino.callbacks")

#: A retry over its service's bound waits in process at most this long for a slot;
#: after that its copy retries it (a first attempt waits until it runs). A copy is due
#: once such a wait and the attempt itself have surely ended (`copy_grace`); one that
#: comes due while its attempt still waits or runs here is copied again, never posted
#: twice at once. Waiting attempts are bounded per service and in all; a poll batch of
#: one busy sender (hundreds of its events) fits.
MAX_WAIT_SECONDS = 5.0
MAX_WAITING_PER_SERVICE = 2000
MAX_WAITING = 10000


def copy_grace(settings: CallbackSettings) -> float:
    """How long after its attempt starts waiting a copy may come due: the longest wait
    for a slot, then every in-process call of the attempt timing out, plus a second."""
    return MAX_WAIT_SECONDS + settings.timeout_seconds * settings.call_attempts + 1


class FirstAttempts:
    """Background attempts (first ones and retries), at most `max_in_flight_per_service`
    per service at once; `stop()` cancels what is left (a retry has its next copy; a
    first attempt not settled nor copied still holds its offset uncommitted, so the
    event is read again after a restart: nothing is lost).

    An attempt over its service's bound waits behind that service's attempts (not
    behind anyone else's), so a burst of one service's events is sent as its attempts
    end rather than a retry delay later. A full queue refuses it (`wait` says False):
    the caller copies it at once. A waiting retry is dropped after `MAX_WAIT_SECONDS`,
    and its copy retries it; a waiting first attempt is never dropped by time.

    First attempts of `messages.status` are *held* (`hold=True`): the consumer commits
    below the first held offset of each partition (`commit_bound`). A held event is
    released when its attempt is settled; when it fails transiently, once its copy (the
    first tier, the tier's own delay) is acknowledged; or when the watchdog finds it
    still waiting or running `copy_after_seconds` after it was read: then its copy (due
    after `copy_grace`) is acknowledged first. The attempt itself goes on either way.

    An event is attempted at most once at a time here: `running(key)` tells whether
    it is (its attempt running or waiting). A batch consumed again while its attempts
    are in flight (a rebalance, a lost commit), or a copy come due before its earlier
    attempt ended, then publishes a copy instead of posting the event a second time
    in parallel."""

    def __init__(self, deps: CallbackDeps, publisher: CopyPublisher, *, watch: bool = True) -> None:
        self._deps = deps
        self._publisher = publisher
        self.held = Held()
        #: The watchdog runs in a task of its own from the first hold (unless `watch` is
        #: False: then `copy_overdue()` is called by its owner, as tests do).
        self._watch = watch
        self._watchdog: asyncio.Task[None] | None = None
        self._per_service: dict[str, int] = {}
        self._waiting: dict[str, collections.deque[tuple[datetime, Job]]] = {}
        self._waiting_count = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Event keys with an attempt running or waiting here.
        self._live: set[str] = set()
        self._gate = asyncio.Semaphore(deps.settings.max_in_flight)
        self._bound = deps.settings.max_in_flight_per_service

    def running(self, key: str) -> bool:
        """Whether the event `key` has an attempt running or waiting here."""
        return key in self._live

    def commit_bound(self, topic: str, partition: int, since: int = 0) -> int | None:
        """The first offset of the partition at or after `since` held by a first
        attempt (see `Held`)."""
        return self.held.first(topic, partition, since)

    def start(self, job: Job, *, hold: bool = False) -> bool:
        """Start the attempt if its service has a slot free; False: it has none."""
        if self._per_service.get(job.event.sender_service_id, 0) >= self._bound:
            return False
        if hold:
            self._hold(job)
        self._start(job)
        return True

    def wait(self, job: Job, *, hold: bool = False) -> bool:
        """Queue the attempt behind its service's attempts; False: no room (nothing queued)."""
        service_id = job.event.sender_service_id
        if not self._room_for(service_id):
            return False
        self._waiting.setdefault(service_id, collections.deque()).append((self._deps.clock(), job))
        self._waiting_count += 1
        self._live.add(job.key)
        if hold:
            self._hold(job)
        OUTCOMES["queued"].inc()
        return True

    def _hold(self, job: Job) -> None:
        self.held.hold(job, self._deps.clock())
        if self._watch and self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watching(), name="callback-copy-watchdog")

    async def _watching(self) -> None:
        tick = max(0.05, min(0.5, self._deps.settings.copy_after_seconds / 4))
        while True:
            await asyncio.sleep(tick)
            try:
                await self.copy_overdue()
            except Exception as exc:  # the broker: they stay held, and go next round
                log.warning("callback_copy_failed", error=logs.safe_error_text(exc, 200))

    async def copy_overdue(self) -> int:
        """Copy each event held longer than `copy_after_seconds` (due after `copy_grace`),
        then release it once the broker acknowledged its copy; returns how many. Its
        attempt goes on; one that then fails leaves the event to this copy."""
        settings = self._deps.settings
        now = self._deps.clock()
        jobs = self.held.overdue(now - timedelta(seconds=settings.copy_after_seconds))
        if not jobs:
            return 0
        copies: list[tuple[Job, OutRecord]] = []
        for job in jobs:
            copy = retry_copy(job, job.attempt + 1, self._deps, min_delay=copy_grace(settings))
            if copy is None:
                job.last = True  # past `max_age_seconds`: nothing follows this attempt
            else:
                copies.append((job, copy))
        try:
            await publish_copies(self._publisher, copies)
        except BaseException:
            self.held.unclaim(jobs)
            raise
        for job in jobs:
            self.held.release(job)
        OUTCOMES["deferred"].inc(len(copies))
        return len(jobs)

    def _room_for(self, service_id: str) -> bool:
        queue = self._waiting.get(service_id)
        if queue is not None:
            self._drop_stale(queue)
        if self._waiting_count >= MAX_WAITING:
            for other in self._waiting.values():
                self._drop_stale(other)
        size = len(queue) if queue is not None else 0
        return size < MAX_WAITING_PER_SERVICE and self._waiting_count < MAX_WAITING

    def _drop_stale(self, queue: collections.deque[tuple[datetime, Job]]) -> None:
        """Drop waiting retries past `MAX_WAIT_SECONDS` (their copies retry them). A
        first attempt is never dropped by time: it runs when a slot frees, however long
        that takes (its hold, or the watchdog's copy, covers it meanwhile)."""
        oldest = self._deps.clock() - timedelta(seconds=MAX_WAIT_SECONDS)
        while queue and queue[0][0] < oldest and queue[0][1].attempt > 0:
            self._live.discard(queue.popleft()[1].key)
            self._waiting_count -= 1
            OUTCOMES["deferred"].inc()

    def _start(self, job: Job) -> None:
        service_id = job.event.sender_service_id
        self._per_service[service_id] = self._per_service.get(service_id, 0) + 1
        self._live.add(job.key)
        task = asyncio.create_task(self._run(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _next(self, service_id: str) -> None:
        """A slot of `service_id` is free: start its oldest waiting attempt still fresh."""
        queue = self._waiting.get(service_id)
        if queue is None:
            return
        self._drop_stale(queue)
        if queue:
            self._waiting_count -= 1
            self._start(queue.popleft()[1])
        if not queue:
            del self._waiting[service_id]

    async def _run(self, job: Job) -> None:
        """The POST holds one of its service's slots; the settlement that follows does
        not (it waits on the database, not on the receiver), so a busy sender's next
        event starts as soon as a receiver has answered."""
        service_id = job.event.sender_service_id
        holding = True
        try:
            async with self._gate:
                outcome = await post(job, self._deps)
            holding = False
            self._release(service_id)
            if outcome == "failed":
                await self._failed(job)
                return
            try:
                await settle(job, outcome, self._deps)
            finally:
                # Delivered or refused: nothing is retried, even if the settle row is
                # missing (a redone batch would then only post it again).
                self.held.release(job)
        except Exception as exc:  # settle failed (database): a retry's copy retries it
            log.warning("callback_settle_failed", error=type(exc).__name__)
        finally:
            self._live.discard(job.key)
            if holding:
                self._release(service_id)

    async def _failed(self, job: Job) -> None:
        """A transient failure: a held event's copy (the next tier, the tier's own delay),
        acknowledged, then released; an event copied already is left to its copy."""
        if not self.held.claim(job):
            if job.last:
                given_up(job)
            return
        copy = retry_copy(job, job.attempt + 1, self._deps)
        if copy is not None:
            try:
                await publish_copies(self._publisher, [(job, copy)])
            except Exception as exc:  # still held: the watchdog copies it
                self.held.unclaim([job])
                log.warning("callback_copy_failed", error=logs.safe_error_text(exc, 200))
                return
        if copy is None or job.last:
            given_up(job)  # past `max_age_seconds`, or a copy the broker never takes
        self.held.release(job)

    def _release(self, service_id: str) -> None:
        self._per_service[service_id] -= 1
        self._next(service_id)

    @property
    def in_flight(self) -> int:
        """Attempts running or waiting."""
        return len(self._tasks) + self._waiting_count

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
            self._watchdog = None
        # Retries have their copies; held first attempts were never committed past.
        for queue in self._waiting.values():
            self._live.difference_update(job.key for _, job in queue)
        self._waiting.clear()
        self._waiting_count = 0
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
