"""PostgreSQL through asyncpg: the pool, and versioned migrations from ordered SQL files.

Migrations are `NNNN_name.sql` files applied in order, each in its own transaction,
recorded in `schema_migrations`; an advisory lock lets several processes start at
once without applying anything twice.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

import asyncpg
import msgspec
from opentelemetry.trace import SpanKind

from worker import logs, tracing
from worker.core.errors import PermanentError, RetryableError

log = logs.get("postino.postgres")

_MIGRATION_LOCK = 0x706F7374  # "post"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

Pool = asyncpg.Pool
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
C = TypeVar("C", bound=type)


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


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool: nothing beyond asyncpg's own
    step (it rolls back an open transaction and drops listeners first).

    asyncpg's default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release: one more round trip per pooled query, and PostgreSQL
    CPU for each. Pooled connections never hold what those undo: no session advisory
    lock (the leader and instance locks have connections of their own, and migrations
    unlock in `finally`), no LISTEN, no cursor outside a transaction, no `SET`."""


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool with `min_size` connections open; `RetryableError` while the server is
    unreachable, starting up or shutting down (each connection attempt at most 10 s)."""
    try:
        pool: Pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=_keep_session,
            timeout=10,
        )
    except (
        OSError,
        TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.AdminShutdownError,
    ) as exc:
        raise RetryableError(f"database unreachable: {type(exc).__name__}: {exc}") from exc
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


#: Connection loss and server shutdown: the work is worth redoing as it is.
_TRANSIENT = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
)


async def require_schema(pool: Pool, folder: Path | None = None) -> None:
    """Raise `RetryableError` while a migration this image ships is not applied (the
    release job, `postino migrate`, has not run yet): a role waits, not ready, rather
    than run against an older schema. A newer schema (a rollback) is fine."""
    try:
        async with pool.acquire() as conn:
            exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
            done = (
                {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                if exists
                else set()
            )
    except _TRANSIENT as exc:
        raise RetryableError(f"database unreachable: {type(exc).__name__}") from exc
    missing = [name for v, name, _ in _migration_files(folder or migrations_dir()) if v not in done]
    if missing:
        raise RetryableError(
            f"{len(missing)} migrations not applied yet (first: {missing[0]}):"
            " waiting for `postino migrate` (the release job)"
        )


def classified(exc: Exception) -> RetryableError | PermanentError | None:
    """The taxonomy's view of a driver error (None: not the driver's, leave it be)."""
    if isinstance(exc, RetryableError | PermanentError):
        return None
    if isinstance(exc, _TRANSIENT):
        return RetryableError(f"database unavailable: {type(exc).__name__}: {exc}")
    if isinstance(exc, asyncpg.PostgresError):
        return PermanentError(f"database refused: {type(exc).__name__}: {exc}")
    return None


_DB = {"db.system": "postgresql"}


def translated(fn: F) -> F:
    """`fn` raising only the taxonomy's errors for the driver's (chained with `from`)."""

    group = f"db {fn.__qualname__}"

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            if tracing.ENABLED:  # one span per statement group (a repository call)
                with tracing.span(group, kind=SpanKind.CLIENT, attributes=_DB):
                    return await fn(*args, **kwargs)
            return await fn(*args, **kwargs)
        except Exception as exc:
            mapped = classified(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return cast(F, call)


def repository(cls: C) -> C:
    """The class with every public coroutine method `translated`: a repository's
    callers see `RetryableError` and `PermanentError`, never an asyncpg exception."""
    for name, attr in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(attr):
            setattr(cls, name, translated(attr))
    return cls
