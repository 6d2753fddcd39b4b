"""The reminders role: one active process runs a reminders round every interval.

Exactly one process is active: it holds a PostgreSQL session advisory lock on a
connection of its own (not from the pool), for as long as that connection lives.
The others stand by, trying the lock every `standby_poll_seconds`; when the active
process stops (or dies, or loses its connection) one of them takes over. A round
that two processes both ran around a takeover is harmless: reminder ids are
deterministic and the rows are written ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import asyncpg

from worker import logs
from worker.adapters.postgres import is_retryable
from worker.adapters.reminders_repo import PostgresReminders
from worker.bootstrap import Runtime, require_endpoints
from worker.core.errors import RetryableError
from worker.services.clock import Clock, SystemClock
from worker.services.reminders import RoundReport
from worker.services.reminders import run_round as _run_round

log = logs.get("postino.reminders")

#: The advisory lock key of the active reminders process ("remi").
LOCK_KEY = 0x72656D69


async def run_round(runtime: Runtime, now: datetime) -> RoundReport:
    """One reminders round at `now` (tests drive it with a FakeClock's time)."""
    settings = runtime.settings
    store = PostgresReminders(runtime.pool)
    return await _run_round(store, runtime.publisher, settings.kafka, settings.reminders, now)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class ReminderProcess:
    """Standby until it holds the lock, then rounds until stopped or the lock is lost."""

    def __init__(self, runtime: Runtime, clock: Clock | None = None) -> None:
        self.runtime = runtime
        self.clock = clock or SystemClock()
        self.active = False
        self.rounds = 0

    async def _acquire(self, stop: asyncio.Event) -> asyncpg.Connection | None:
        _, url = require_endpoints(self.runtime.settings)
        poll = self.runtime.settings.reminders.standby_poll_seconds
        announced = False
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(url)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("reminders_lock_connect_failed", error=logs.safe_error_text(exc, 200))
                await _pause(stop, poll)
                continue
            try:
                while not stop.is_set():
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                        return conn
                    if not announced:
                        log.info("reminders_standby")
                        announced = True
                    await _pause(stop, poll)
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                log.warning("reminders_lock_lost_connection", error=logs.safe_error_text(exc, 200))
            await conn.close()
        return None

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        interval = self.runtime.settings.reminders.interval_seconds
        while not stop.is_set():
            await conn.execute("SELECT 1")  # the lock lives as long as this connection
            try:
                await run_round(self.runtime, self.clock.now())
            except Exception as exc:
                if not (isinstance(exc, RetryableError) or is_retryable(exc)):
                    raise
                log.warning("reminders_round_failed", error=logs.safe_error_text(exc))
            self.rounds += 1
            await _pause(stop, interval)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            conn = await self._acquire(stop)
            if conn is None:
                return
            self.active = True
            log.info("reminders_active")
            try:
                await self._lead(conn, stop)
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                log.warning("reminders_leadership_lost", error=logs.safe_error_text(exc, 200))
            finally:
                self.active = False
                with contextlib.suppress(Exception):
                    await conn.close()  # closing the session releases the lock
        log.info("reminders_stopped", rounds=self.rounds)


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    await ReminderProcess(runtime).run(stop)
