"""PostgreSQL through asyncpg: the pool, and versioned migrations from ordered SQL files.

Migrations are `NNNN_name.sql` files applied in order, each in its own transaction,
recorded in `schema_migrations`; an advisory lock lets several processes start at
once without applying anything twice.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from worker import logs
from worker.core.errors import RetryableError

log = logs.get("postino.postgres")

_MIGRATION_LOCK = 0x706F7374  # "post"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Pool = asyncpg.Pool


def migrations_dir() -> Path:
    """deploy/migrations in a checkout; worker/migrations in an installed wheel."""
    packaged = resources.files("worker").joinpath("migrations")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "deploy" / "migrations"


_JSON_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder()


def _encode_json(value: Any) -> str:
    return _JSON_ENCODER.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_encode_json, decoder=_JSON_DECODER.decode, schema="pg_catalog"
    )


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    try:
        pool: Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection
        )
    except (OSError, asyncpg.PostgresConnectionError) as exc:
        raise RetryableError(f"database unreachable: {exc}") from exc
    return pool


def _migration_files(folder: Path) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path.stem, path))
    return found


async def migrate(pool: Pool, folder: Path | None = None) -> list[str]:
    """Apply the pending migrations; returns the names applied. Safe to run concurrently."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, path in _migration_files(folder or migrations_dir()):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        version,
                        name,
                    )
                applied.append(name)
                log.info("migration_applied", migration=name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


def is_retryable(exc: BaseException) -> bool:
    """Connection loss and server shutdown: the batch is worth redoing as it is."""
    return isinstance(
        exc,
        OSError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.DeadlockDetectedError
        | asyncpg.exceptions.SerializationError,
    )


def as_dict(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return None if record is None else dict(record)
