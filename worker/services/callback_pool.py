"""The callbacks' attempts in process: each in a task of its own, at most
`max_in_flight_per_service` per service at once, the others waiting briefly behind
their own service's attempts (never behind anyone else's)."""

from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timedelta

from worker import logs
from worker.services.callback_send import OUTCOMES, CallbackDeps, Job, given_up, post, settle
from worker.settings import CallbackSettings

log = logs.get("postino.callbacks")

#: An attempt over its service's bound waits in process at most this long for a slot;
#: after that its copy retries it. The copy is due only after such a wait and the
#: attempt itself have surely ended (`copy_grace`). Waiting attempts are bounded per
#: service and in all; a poll batch of one busy sender (hundreds of its events) fits.
MAX_WAIT_SECONDS = 5.0
MAX_WAITING_PER_SERVICE = 2000
MAX_WAITING = 10000


def copy_grace(settings: CallbackSettings) -> float:
    """How long after its attempt starts waiting a copy may come due: the longest wait
    for a slot, then every in-process call of the attempt timing out, plus a second."""
    return MAX_WAIT_SECONDS + settings.timeout_seconds * settings.call_attempts + 1


class FirstAttempts:
    """Background attempts (first ones and retries), at most `max_in_flight_per_service`
    per service at once; `stop()` cancels what is left (each has its next retry-tier
    copy, so nothing is lost).

    An attempt over its service's bound may wait behind that service's attempts (not
    behind anyone else's) for at most `MAX_WAIT_SECONDS`, so a burst of one service's
    events is sent as its attempts end rather than a retry delay later. Only an
    attempt whose copy is already published waits; one that finds its service's queue
    full, or goes stale waiting, is dropped, and its copy retries it.

    An event is attempted at most once at a time here: `running(key)` tells whether
    it is (its attempt running or waiting). A batch consumed again while its attempts
    are in flight (a rebalance, a lost commit), or a copy come due before its earlier
    attempt ended, then publishes a copy instead of posting the event a second time
    in parallel."""

    def __init__(self, deps: CallbackDeps) -> None:
        self._deps = deps
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

    def start(self, job: Job) -> bool:
        """Start the attempt if its service has a slot free; False: it has none."""
        if self._per_service.get(job.event.sender_service_id, 0) >= self._bound:
            return False
        self._start(job)
        return True

    def wait(self, job: Job) -> None:
        """Queue the attempt behind its service's attempts, if there is room; either way
        its copy (already published) retries it should it not run."""
        service_id = job.event.sender_service_id
        if not self._room_for(service_id):
            OUTCOMES["deferred"].inc()
            return
        self._waiting.setdefault(service_id, collections.deque()).append((self._deps.clock(), job))
        self._waiting_count += 1
        self._live.add(job.key)
        OUTCOMES["queued"].inc()

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
        oldest = self._deps.clock() - timedelta(seconds=MAX_WAIT_SECONDS)
        while queue and queue[0][0] < oldest:
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
            await settle(job, outcome, self._deps)
            if outcome == "failed" and job.last:
                given_up(job)
        except Exception as exc:  # settle failed (database): the copy will retry
            log.warning("callback_settle_failed", error=type(exc).__name__)
        finally:
            self._live.discard(job.key)
            if holding:
                self._release(service_id)

    def _release(self, service_id: str) -> None:
        self._per_service[service_id] -= 1
        self._next(service_id)

    @property
    def in_flight(self) -> int:
        """Attempts running or waiting."""
        return len(self._tasks) + self._waiting_count

    async def stop(self) -> None:
        for queue in self._waiting.values():  # their copies retry them
            self._live.difference_update(job.key for _, job in queue)
        self._waiting.clear()
        self._waiting_count = 0
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
