"""The attempts journal (`PostgresJournal`): entries added within its linger go out in
one COPY (a batch holding an id already stored goes again as an INSERT that skips it),
a failed write is dropped without raising, and `close()` writes the rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg

from worker.adapters.console_repo import PostgresJournal
from worker.adapters.postgres import Pool
from worker.services.attempts import Attempt


class RecordingPool:
    """Stands in for the pool: each COPY or `execute` is one statement, recorded as its
    ids; an id in `stored` makes a COPY fail as the primary key does."""

    def __init__(self) -> None:
        self.statements: list[list[str]] = []
        self.inserts: list[list[str]] = []
        self.stored: set[str] = set()
        self.failing = False

    async def copy_records_to_table(
        self, table: str, *, records: list[tuple[Any, ...]], columns: tuple[str, ...]
    ) -> str:
        if self.failing:
            raise ConnectionError("database gone")
        ids = [r[columns.index("id")] for r in records]
        if self.stored & set(ids):
            raise asyncpg.UniqueViolationError("duplicate key value")
        self.statements.append(ids)
        return f"COPY {len(ids)}"

    async def execute(self, query: str, *columns: Any) -> str:
        self.inserts.append(list(columns[0]))
        return "INSERT 0"


def attempt(n: int) -> Attempt:
    return Attempt(f"a{n}", f"m{n}", datetime.now(UTC), "callback", "message:PROCESSED", 1, "ok")


def journal(pool: RecordingPool, linger: float) -> PostgresJournal:
    return PostgresJournal(cast(Pool, pool), linger=linger)


async def test_entries_added_within_the_linger_go_out_in_one_statement() -> None:
    pool = RecordingPool()
    writer = journal(pool, linger=0.05)
    for n in range(50):
        writer.add(attempt(n))
        await asyncio.sleep(0)
    await writer.close()
    assert pool.statements == [[f"a{n}" for n in range(50)]]


async def test_an_entry_after_a_write_starts_the_next_one() -> None:
    pool = RecordingPool()
    writer = journal(pool, linger=0.01)
    writer.add(attempt(1))
    for _ in range(200):
        if pool.statements:
            break
        await asyncio.sleep(0.01)
    writer.add(attempt(2))
    await writer.close()
    assert pool.statements == [["a1"], ["a2"]]


async def test_a_failed_write_is_dropped_and_the_journal_goes_on() -> None:
    pool = RecordingPool()
    pool.failing = True
    writer = journal(pool, linger=0.0)
    writer.add(attempt(1))
    await writer.close()
    pool.failing = False
    writer.add(attempt(2))
    await writer.close()
    assert pool.statements == [["a2"]]


async def test_a_batch_with_an_id_already_stored_goes_again_as_an_insert_that_skips_it() -> None:
    pool = RecordingPool()
    pool.stored = {"a1"}
    writer = journal(pool, linger=0.0)
    writer.add(attempt(1))
    writer.add(attempt(2))
    await writer.close()
    assert pool.statements == []
    assert pool.inserts == [["a1", "a2"]]
