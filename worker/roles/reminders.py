"""The reminders role: one active process runs a reminders round every interval.

Exactly one process is active: it holds a PostgreSQL session advisory lock on a
connection of its own (not from the pool), for as long as that connection lives.
The others stand by, trying the lock every `standby_poll_seconds`; when the active
process stops (or dies, or loses its connection) one of them takes over. A round
that two processes both ran around a takeover is harmless: reminder ids are
deterministic and the rows are written ON CONFLICT DO NOTHING.

After each round the active process also runs a pass of the content eraser
(`worker.services.retention`): it is the one role with exactly one active process,
so one eraser works at a time with no scheduler of its own, and its short batches
(rows in use skipped) never hold up the writers. Once a day it also keeps the
senders' counts of the day that just settled (`reports.settle_day`), so a report
never waits for them. A failed pass is logged and taken up again after the next
round; it never stops the reminders.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from worker import logs
from worker.adapters.reminders_repo import AdvisoryLock
from worker.bootstrap import (
    Runtime,
    leader_lock,
    payment_status,
    reminder_store,
    reports_store,
    retention_store,
    timer_pulse,
)
from worker.core.backoff import Backoff
from worker.core.errors import PermanentError, RetryableError
from worker.periodic import pause
from worker.services.clock import Clock, utc_now
from worker.services.payment_status import PaymentStatusLookup
from worker.services.reminders import RoundReport
from worker.services.reminders import run_round as _run_round
from worker.services.reports import just_settled, settle_day
from worker.services.retention import erase_expired

log = logs.get("postino.reminders")

#: The advisory lock key of the active reminders process ("remi").
LOCK_KEY = 0x72656D69


async def run_round(
    runtime: Runtime, now: datetime, lookup: PaymentStatusLookup | None = None
) -> RoundReport:
    """One reminders round at `now` (tests drive it with a settable clock's time)."""
    settings = runtime.settings
    return await _run_round(
        reminder_store(runtime),
        runtime.publisher,
        settings.kafka.topics,
        settings.reminders,
        now,
        lookup=lookup,
    )


async def erase_round(runtime: Runtime, now: datetime) -> int:
    """One pass of the content eraser at `now`; the messages erased (0 when it failed)."""
    try:
        return await erase_expired(retention_store(runtime), runtime.settings.retention, now)
    except (RetryableError, PermanentError) as exc:
        log.warning("retention_pass_failed", error=logs.safe_error_text(exc, 200))
        return 0


async def settle_round(runtime: Runtime, now: datetime) -> int | None:
    """Keep the counts of the day that just settled; the services counted (None when
    it failed: the next round tries again)."""
    try:
        return await settle_day(reports_store(runtime), just_settled(now))
    except (RetryableError, PermanentError) as exc:
        log.warning("report_settle_failed", error=logs.safe_error_text(exc, 200))
        return None


class ReminderProcess:
    """Standby until it holds the lock, then rounds until stopped or the lock is lost."""

    def __init__(self, runtime: Runtime, clock: Clock = utc_now) -> None:
        self.runtime = runtime
        self.lookup: PaymentStatusLookup | None = None
        self.clock = clock
        self.active = False
        self.rounds = 0
        #: The last day whose senders' counts this process kept (once a day).
        self._settled: date | None = None
        r = runtime.settings.reminders
        self._pulse = timer_pulse(
            runtime, "reminders", max(r.interval_seconds, r.standby_poll_seconds)
        )

    async def _acquire(self, lock: AdvisoryLock, stop: asyncio.Event) -> bool:
        poll = self.runtime.settings.reminders.standby_poll_seconds
        announced = False
        while not stop.is_set():
            try:
                if await lock.try_acquire():
                    return True
            except RetryableError as exc:
                log.warning("reminders_lock_unavailable", error=logs.safe_error_text(exc, 200))
                await lock.release()
            else:
                if not announced:
                    log.info("reminders_standby")
                    announced = True
            self._pulse.beat()
            await pause(stop, poll)
        return False

    async def _lead(self, lock: AdvisoryLock, stop: asyncio.Event) -> None:
        """A round every interval; a round that failed (database or broker down, maybe
        with reminders recorded but not published) is tried again sooner: after
        `standby_poll_seconds`, doubling up to the interval (`Backoff`, jittered)."""
        settings = self.runtime.settings.reminders
        backoff = Backoff(settings.standby_poll_seconds, settings.interval_seconds)
        failures = 0
        while not stop.is_set():
            await lock.check()  # the lock lives as long as its connection
            wait = settings.interval_seconds
            try:
                await run_round(self.runtime, self.clock(), self.lookup)
                failures = 0
                backoff.reset()
            except RetryableError as exc:
                failures += 1
                wait = backoff.next()
                log.warning(
                    "reminders_round_failed", failures=failures, error=logs.safe_error_text(exc)
                )
            now = self.clock()
            await erase_round(self.runtime, now)
            if self._settled != just_settled(now):
                counted = await settle_round(self.runtime, now)
                self._settled = just_settled(now) if counted is not None else None
            self.rounds += 1
            self._pulse.beat()
            await pause(stop, wait)

    async def run(self, stop: asyncio.Event) -> None:
        lock = leader_lock(self.runtime, LOCK_KEY)
        while not stop.is_set():
            if not await self._acquire(lock, stop):
                break
            self.active = True
            log.info("reminders_active")
            try:
                await self._lead(lock, stop)
            except RetryableError as exc:
                log.warning("reminders_leadership_lost", error=logs.safe_error_text(exc, 200))
            finally:
                self.active = False
                await lock.release()  # closing the session releases the lock
        self._pulse.end()
        log.info("reminders_stopped", rounds=self.rounds)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    process = ReminderProcess(runtime)
    async with payment_status(runtime.settings.reminders) as process.lookup:
        await process.run(stop)
