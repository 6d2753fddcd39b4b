"""The one place that builds the real adapters and hands them to roles.

`Runtime` owns the database pool and the Kafka producer: opened together, closed
together, in reverse order, whatever happens in between.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from worker.adapters import kafka, postgres
from worker.adapters.kafka import Publisher
from worker.adapters.postgres import Pool
from worker.ids import IdSigner
from worker.settings import ConfigError, Settings


@dataclass(slots=True)
class Runtime:
    settings: Settings
    pool: Pool
    publisher: Publisher
    bootstrap: str
    signer: IdSigner


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


@asynccontextmanager
async def open_runtime(settings: Settings, role: str = "dev") -> AsyncIterator[Runtime]:
    """The pool and the producer (client id `postino-<role>`), closed in reverse order."""
    bootstrap, url = require_endpoints(settings)
    signer = IdSigner(id_secret(settings))
    pool = await postgres.create_pool(
        url, min_size=settings.database.pool_min, max_size=settings.database.pool_max
    )
    try:
        producer = kafka.producer(settings.kafka, bootstrap, role)
        await producer.start()
        try:
            yield Runtime(settings, pool, Publisher(producer), bootstrap, signer)
        finally:
            await producer.stop()
    finally:
        await pool.close()
