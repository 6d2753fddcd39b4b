"""One running process per instance name, checked with a PostgreSQL advisory lock.

A role that names its claims after its instance (notify) may release the claims a
previous life of that instance left behind, but only if no other live process uses
the same name. The lock proves it: a session advisory lock on the name, held on a
connection of its own (not from the pool) for as long as the process runs. The
server drops it when that connection ends, so a process killed with -9 frees its
name as soon as the server notices the closed socket.
"""

from __future__ import annotations

import contextlib
import zlib

import asyncpg

from worker import logs

log = logs.get("postino.instance")


def lock_key(name: str) -> int:
    """A stable 32-bit key for the name (a classid-less advisory lock on it)."""
    return zlib.crc32(f"postino-instance:{name}".encode())


class InstanceLock:
    """`acquire()` once at start; `release()` (idempotent) at stop."""

    def __init__(self, url: str, name: str) -> None:
        self._url = url
        self.name = name
        self._conn: asyncpg.Connection | None = None

    async def acquire(self) -> bool:
        """True when this process now holds the name; False when another live one does."""
        conn = await asyncpg.connect(self._url)
        try:
            held = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(self.name)))
        except BaseException:
            await conn.close()
            raise
        if not held:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()  # ending the session releases the lock
