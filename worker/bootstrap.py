"""The one place that builds the real adapters and hands them to roles.

`Runtime` owns the database pool and the Kafka producer: opened together, closed
together, in reverse order, whatever happens in between. Opening waits for each of
them (wait, don't die): while the database or the broker is unreachable it retries
with a capped backoff, one log line per attempt, and the process's `Readiness`
says what it still waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from worker import logs
from worker.adapters import kafka, postgres
from worker.adapters.kafka import Publisher
from worker.adapters.postgres import Pool
from worker.core.errors import RetryableError
from worker.ids import IdSigner
from worker.readiness import Readiness
from worker.settings import ConfigError, Settings

log = logs.get("postino.bootstrap")
T = TypeVar("T")

#: First and longest pause between two attempts to reach a dependency at start.
FIRST_PAUSE_SECONDS = 0.5
MAX_PAUSE_SECONDS = 10.0


class Stopped(Exception):
    """Told to stop while still waiting for a dependency."""


@dataclass(slots=True)
class Runtime:
    settings: Settings
    pool: Pool
    publisher: Publisher
    bootstrap: str
    signer: IdSigner
    readiness: Readiness = field(default_factory=lambda: Readiness(True, True))


def require_endpoints(settings: Settings) -> tuple[str, str]:
    if not settings.kafka.bootstrap:
        raise ConfigError("POSTINO_KAFKA_BOOTSTRAP is required (or run `postino dev`)")
    if not settings.database.url:
        raise ConfigError("POSTINO_DATABASE_URL is required (or run `postino dev`)")
    return settings.kafka.bootstrap, settings.database.url


def id_secret(settings: Settings) -> str:
    """The id-signing secret; in dev, generated once and kept under the data dir."""
    if settings.id_secret:
        return settings.id_secret
    if settings.profile != "dev":
        raise ConfigError("POSTINO_ID_SECRET is required in the production profile")
    path = Path(settings.data_dir) / "id-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def until_reachable(
    dependency: str,
    connect: Callable[[], Awaitable[T]],
    stop: asyncio.Event | None = None,
    *,
    first_pause: float = FIRST_PAUSE_SECONDS,
    max_pause: float = MAX_PAUSE_SECONDS,
) -> T:
    """`connect()` until it stops raising `RetryableError`, pausing `first_pause` then
    twice as long each time up to `max_pause`; one warning per failed attempt. Raises
    `Stopped` when `stop` is set meanwhile."""
    attempt, pause = 0, first_pause
    while True:
        attempt += 1
        try:
            result = await connect()
        except RetryableError as exc:
            log.warning(
                "dependency_unreachable",
                dependency=dependency,
                attempt=attempt,
                retry_in_seconds=pause,
                error=logs.safe_error_text(exc, 200),
            )
        else:
            if attempt > 1:
                log.info("dependency_reachable", dependency=dependency, attempts=attempt)
            return result
        if stop is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            if stop.is_set():
                raise Stopped(dependency)
        pause = min(pause * 2, max_pause)


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    role: str = "dev",
    readiness: Readiness | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Runtime]:
    """The pool, then the producer (client id `postino-<role>`), each waited for until
    reachable (or `Stopped`); closed in reverse order."""
    bootstrap, url = require_endpoints(settings)
    signer = IdSigner(id_secret(settings))
    readiness = readiness or Readiness()
    db = settings.database

    async def connect_pool() -> Pool:
        return await postgres.create_pool(url, min_size=db.pool_min, max_size=db.pool_max)

    pool = await until_reachable("database", connect_pool, stop)
    readiness.database = True
    try:
        producer = await until_reachable(
            "broker", lambda: kafka.start_producer(settings.kafka, bootstrap, role), stop
        )
        readiness.broker = True
        try:
            yield Runtime(settings, pool, Publisher(producer), bootstrap, signer, readiness)
        finally:
            readiness.broker = False
            await producer.stop()
    finally:
        readiness.database = False
        await pool.close()
