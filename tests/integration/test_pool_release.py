"""The pool's release step: no reset round trip, and nothing of a transaction leaks."""

from __future__ import annotations

import asyncpg
import pytest

from worker.adapters import postgres


async def _last_statement(url: str, pid: int) -> str:
    conn = await asyncpg.connect(url)
    try:
        query: str = await conn.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
        return query
    finally:
        await conn.close()


async def test_release_sends_no_reset_query(stack: tuple[str, str]) -> None:
    """asyncpg's default release runs `RESET ALL` & co. on the server; ours does not, so
    the backend's last statement is still the caller's own."""
    url, _ = stack
    pool = await postgres.create_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            assert await conn.fetchval("SELECT 41 + 1 AS postino_probe") == 42
        assert "postino_probe" in await _last_statement(url, pid)
    finally:
        await pool.close()


async def test_release_rolls_back_an_open_transaction(stack: tuple[str, str]) -> None:
    """A transaction a caller leaves open is rolled back on release: the next user of
    the connection sees no half-done write and no aborted state."""
    url, _ = stack
    pool = await postgres.create_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS pool_probe (v int)")
            tx = conn.transaction()
            await tx.start()
            await conn.execute("INSERT INTO pool_probe VALUES (1)")
            with pytest.raises(asyncpg.DivisionByZeroError):
                await conn.execute("SELECT 1 / 0")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM pool_probe") == 0
    finally:
        await pool.close()
