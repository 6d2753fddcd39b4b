"""Opening what a process shares: database pool, Kafka producer, id signer.

`open_runtime` opens them and closes them in reverse order, whatever happens in
between. Opening waits for each of them (wait, don't die): while the database or the
broker is unreachable it retries with a capped backoff, one log line per attempt, and
marks the process's `Health` not ready for what it still waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
from worker.core.backoff import Backoff
from worker.core.errors import RetryableError
from worker.health import Health
from worker.ids import IdSigner
from worker.settings import (
    ConfigError,
    Settings,
)

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
    #: Heartbeats and readiness marks, reported by the ops listener.
    health: Health = field(default_factory=Health)
    #: Where this process's ops listener listens (None: it has none, as in tests).
    ops_port: int | None = None


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
    health: Health | None = None,
    *,
    first_pause: float = FIRST_PAUSE_SECONDS,
    max_pause: float = MAX_PAUSE_SECONDS,
) -> T:
    """`connect()` until it stops raising `RetryableError`, pausing `first_pause` then
    twice as long each time up to `max_pause` (`Backoff`, jittered); one warning per
    failed attempt. Raises
    `Stopped` when `stop` is set meanwhile. While it waits, `health` has `dependency`
    marked not ready (so `/readyz` answers 503)."""
    attempt, backoff = 0, Backoff(first_pause, max_pause)
    while True:
        attempt += 1
        pause = backoff.next()
        try:
            result = await connect()
        except RetryableError as exc:
            if health is not None:
                health.not_ready(dependency, f"unreachable (attempt {attempt})")
            log.warning(
                "dependency_unreachable",
                dependency=dependency,
                attempt=attempt,
                retry_in_seconds=pause,
                error=logs.safe_error_text(exc, 200),
            )
        else:
            if health is not None:
                health.ready(dependency)
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


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    role: str = "dev",
    health: Health | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[Runtime]:
    """The pool, then the producer (client id `postino-<role>`), each waited for until
    reachable (or `Stopped`), `health` marked not ready meanwhile; closed in reverse
    order."""
    bootstrap, url = require_endpoints(settings)
    secret = id_secret(settings)
    logs.use_mask_secret(settings.log_mask_secret or secret)
    signer = IdSigner(secret)
    health = health or Health()
    db = settings.database

    async def connect_pool() -> Pool:
        return await postgres.create_pool(url, min_size=db.pool_min, max_size=db.pool_max)

    pool = await until_reachable("database", connect_pool, stop, health)
    try:
        await until_reachable("schema", lambda: postgres.require_schema(pool), stop, health)
        start_producer = functools.partial(kafka.start_producer, settings.kafka, bootstrap, role)
        producer = await until_reachable("broker", start_producer, stop, health)
        publisher = Publisher(producer, restart=start_producer)
        try:
            yield Runtime(settings, pool, publisher, bootstrap, signer, health)
        finally:
            await publisher.stop()
    finally:
        await pool.close()
