"""notify's PostgreSQL statements, per row: client CPU, server CPU and wall time.

`python -m devkit.bench.notify_pg [notifications]` starts an embedded PostgreSQL,
migrates it and measures, on one connection, each part of notify's database work:
loading a batch's rows and context (batches of 20), recording outcomes (groups of
10, each claimed first), and the attempts journal (batches of 100) written three
ways: `INSERT ... ON CONFLICT DO NOTHING` (the former journal), `COPY` (the current
one) and `COPY` into a temporary table then `INSERT ... SELECT ... ON CONFLICT`.
Server CPU is the backend's own (user + system from /proc, clock ticks), so take
it over a few thousand rows; each measure runs twice, alternating, and both print.
To compare with an older adapter, run the same module on its checkout.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import asyncpg

from devkit.embedded import EmbeddedPostgres
from schemas.enums import Channel, NotificationKind, NotificationStatus
from schemas.events import NotificationRequest
from worker.adapters import console_repo
from worker.adapters.notifications_repo import PostgresNotifications
from worker.adapters.postgres import Pool, create_pool, migrate
from worker.services.attempts import Attempt
from worker.services.notify_ports import Lease, Outcome

CITIZEN = "RSSMRA80A01H501U"
_STAGED = "CREATE TEMP TABLE IF NOT EXISTS attempts_in (LIKE delivery_attempts)"
_MERGE = "INSERT INTO delivery_attempts SELECT * FROM attempts_in ON CONFLICT (id) DO NOTHING"


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _per_row(pid: int, rows: int, body: Callable[[], Awaitable[None]]) -> str:
    cpu, server, wall = time.process_time(), _backend_cpu(pid), time.perf_counter()
    await body()
    cpu, server = time.process_time() - cpu, _backend_cpu(pid) - server
    wall = time.perf_counter() - wall
    return (
        f"client {cpu / rows * 1e6:5.1f} us, server {server / rows * 1e6:5.1f} us,"
        f" wall {wall / rows * 1e6:6.1f} us per row"
    )


async def _requests(pool: Pool, prefix: str, messages: int) -> list[NotificationRequest]:
    """A push and an e-mail for each of `messages` stored messages."""
    await pool.execute(
        "INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,"
        " feature_level_type, content, status) SELECT $1 || g, $3, 'svc', now(), 3600,"
        " 'STANDARD', '{}'::jsonb, 'PROCESSED' FROM generate_series(1, $2) g",
        prefix,
        messages,
        CITIZEN,
    )
    deadline = datetime.now(UTC) + timedelta(hours=1)
    return [
        NotificationRequest(
            notification_id=f"{prefix}{n}-{channel.lower()}-message",
            message_id=f"{prefix}{n}",
            fiscal_code=CITIZEN,
            sender_service_id="svc",
            channel=channel,
            deadline=deadline,
            kind=NotificationKind.MESSAGE,
        )
        for n in range(1, messages + 1)
        for channel in Channel
    ]


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _notify(pool: Pool, pid: int, prefix: str, messages: int) -> None:
    store = PostgresNotifications(pool)
    requests = await _requests(pool, prefix, messages)
    now = datetime.now(UTC)
    lease = Lease("probe", now, now + timedelta(minutes=10))
    for group in _chunks(requests, 10):
        await store.claim(group, lease)

    async def record() -> None:
        for group in _chunks(requests, 10):
            await store.record_outcomes([Outcome(r, NotificationStatus.SENT, 1) for r in group])

    async def load() -> None:
        for batch in _chunks(requests, 20):
            await store.load_batch(batch)

    print("outcomes (groups of 10):", await _per_row(pid, len(requests), record))
    print("load_batch (batches of 20):", await _per_row(pid, len(requests), load))


def _attempts(prefix: str, count: int) -> list[Attempt]:
    at = datetime.now(UTC)
    return [
        Attempt(f"n:{prefix}{n}:1:SENT", f"{prefix}{n // 2}", at, "notification", "PUSH", 1, "SENT")
        for n in range(count)
    ]


async def _journal_insert(pool: Pool, batch: Sequence[Attempt]) -> None:
    await console_repo.insert_attempts(pool, [console_repo.attempt_row(a) for a in batch])


async def _journal_staged(pool: Pool, batch: Sequence[Attempt]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_STAGED)
        await conn.execute("TRUNCATE attempts_in")
        rows = [console_repo.attempt_row(a) for a in batch]
        await conn.copy_records_to_table(
            "attempts_in", records=rows, columns=console_repo.ATTEMPT_COLUMNS
        )
        await conn.execute(_MERGE)


Write = Callable[[Pool, Sequence[Attempt]], Awaitable[None]]


async def _journal(pool: Pool, pid: int, prefix: str, count: int) -> None:
    ways: dict[str, Write] = {
        "insert": _journal_insert,
        "copy": console_repo.add_attempts,
        "staged": _journal_staged,
    }
    for name, write in ways.items():
        entries = _chunks(_attempts(f"{prefix}{name}-", count), 100)
        print(
            f"journal {name} (batches of 100):",
            await _per_row(pid, count, _writer(pool, write, entries)),
        )


def _writer(
    pool: Pool, write: Write, batches: list[Sequence[Attempt]]
) -> Callable[[], Awaitable[None]]:
    async def body() -> None:
        for batch in batches:
            await write(pool, batch)

    return body


async def main(notifications: int) -> None:
    with tempfile.TemporaryDirectory(prefix="notify-pg-") as folder:
        server = EmbeddedPostgres(Path(folder))
        url = server.start()
        try:
            pool = await create_pool(url, min_size=1, max_size=1)
            await migrate(pool)
            async with pool.acquire() as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
            for run in (1, 2):
                await _notify(pool, pid, f"r{run}-", notifications // 2)
                await _journal(pool, pid, f"r{run}-", notifications * 5)
            await pool.close()
        except asyncpg.PostgresError as exc:
            print("failed:", exc)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000))
