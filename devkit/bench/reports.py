"""The senders' reports on a big table: `python -m devkit.bench.reports [messages]`.

Starts an embedded PostgreSQL in a temporary directory, applies the migrations, seeds
`messages` server-side (`INSERT ... SELECT` over `generate_series`, 1,000,000 rows by
default: one big service with 60% of them over 90 days, 19 others sharing the rest;
90% PROCESSED, 8% REJECTED, 2% FAILED, a fifth ADVANCED) with one PUSH notification
per processed message and an EMAIL one for a third, then VACUUM ANALYZE, and times the
queries the routes run, through the very repository they use (`PostgresReports`):
the first page, a page 300,000 rows deep (keyset), `?status=FAILED`, `?fiscal_code=`,
and the stats over 30 and 93 days (`service_stats`, as the route: the first request,
which counts the settled days and keeps them, then `repeat` more), each `repeat` times
(median and worst), with the plan of each query (`EXPLAIN (ANALYZE, BUFFERS)`; the
live counts over the whole range, as a first request of a fresh table runs them).
Then one pass of the content eraser over the rows older than 60 days, timed per batch.
Prints a JSON report; `--out FILE` writes it too.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devkit.embedded import EmbeddedPostgres
from worker import logs
from worker.adapters import postgres
from worker.adapters.lifecycle_repo import PostgresLifecycle
from worker.adapters.reports_repo import (
    DAILY_CHANNELS,
    DAILY_COUNTS,
    DAILY_SHARED,
    PageQuery,
    PostgresReports,
    page_statement,
)
from worker.services import reports as reports_service

BIG = "svc-big"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 90
CITIZENS = 200_000
# Server-side seed of `$1` messages: row i gets a service (60% the big one), a time
# spread over DAYS days before NOW, a citizen, a status, a level, read and paid flags.
_SEED = """
INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                      feature_level_type, content, status, rejection_reason, failure_reason,
                      is_read, read_consent, paid_at, processed_at)
SELECT 'M' || lpad(i::text, 25, '0'),
       'CIT' || lpad((i % $2)::text, 13, '0'),
       CASE WHEN i % 10 < 6 THEN 'svc-big' ELSE 'svc-' || (i % 19) END,
       $3::timestamptz - (i::float8 / $1 * $4) * interval '1 day',
       3600,
       CASE WHEN i % 5 = 0 THEN 'ADVANCED' ELSE 'STANDARD' END,
       jsonb_build_object('subject', 'Avviso di pagamento numero ' || i,
                          'markdown', repeat('Gentile cittadino, ', 12) || i),
       CASE WHEN i % 50 = 1 THEN 'FAILED' WHEN i % 25 IN (4, 13) THEN 'REJECTED'
            ELSE 'PROCESSED' END,
       CASE WHEN i % 25 IN (4, 13) THEN 'USER_NOT_FOUND' END,
       CASE WHEN i % 50 = 1 THEN 'SERVICE_DELETED' END,
       i % 2 = 0, i % 4 = 0,
       CASE WHEN i % 7 = 0 THEN $3::timestamptz END,
       $3::timestamptz - (i::float8 / $1 * $4) * interval '1 day'
FROM generate_series(1, $1) AS i
"""
_SEED_NOTIFICATIONS = """
INSERT INTO notifications (id, message_id, fiscal_code, sender_service_id, channel, kind,
                           status, attempts, deadline, created_at, updated_at)
SELECT m.id || c.channel, m.id, m.fiscal_code, m.sender_service_id, c.channel, 'MESSAGE',
       CASE WHEN right(m.id, 2)::int < 95 THEN 'SENT' ELSE 'FAILED' END, 1,
       m.created_at + interval '1 hour', m.created_at + interval '1 second',
       m.created_at + interval '2 seconds'
FROM messages m
CROSS JOIN (VALUES ('PUSH'), ('EMAIL')) AS c(channel)
WHERE m.status = 'PROCESSED' AND (c.channel = 'PUSH' OR right(m.id, 1)::int < 3)
"""
_SERVICES = """
INSERT INTO services (id, name, organization_name, organization_fiscal_code, state,
                      published, api_key_hash)
SELECT s, s, 'Comune', '12345678901', 'approved', true, convert_to(s, 'UTF8')
FROM unnest($1::text[]) AS s
"""


async def _timed(call: Callable[[], Awaitable[Any]], repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


async def _plan(pool: postgres.Pool, sql: str, *args: Any) -> list[str]:
    rows = await pool.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
    return [r[0] for r in rows]


async def _seed(pool: postgres.Pool, messages: int) -> dict[str, float]:
    started = time.perf_counter()
    await pool.execute(_SERVICES, [BIG, *(f"svc-{n}" for n in range(19))])
    await pool.execute(_SEED, messages, CITIZENS, NOW, float(DAYS))
    seeded = time.perf_counter()
    await pool.execute(_SEED_NOTIFICATIONS)
    notified = time.perf_counter()
    await pool.execute("VACUUM ANALYZE messages")
    await pool.execute("VACUUM ANALYZE notifications")
    done = time.perf_counter()
    return {
        "messages_s": round(seeded - started, 1),
        "notifications_s": round(notified - seeded, 1),
        "vacuum_analyze_s": round(done - notified, 1),
        "notifications": await pool.fetchval("SELECT count(*) FROM notifications"),
        "big_service_messages": await pool.fetchval(
            "SELECT count(*) FROM messages WHERE sender_service_id = $1", BIG
        ),
    }


def _pages(deep: tuple[datetime, str], citizen: str) -> dict[str, PageQuery]:
    return {
        "first_page_100": PageQuery(BIG, 101),
        "page_300k_deep_100": PageQuery(BIG, 101, after=deep),
        "status_failed_100": PageQuery(BIG, 101, status="FAILED"),
        "fiscal_code_100": PageQuery(BIG, 101, fiscal_code=citizen),
        "range_one_day_500": PageQuery(
            BIG, 501, since=NOW - timedelta(days=10), until=NOW - timedelta(days=9)
        ),
    }


async def _measure(pool: postgres.Pool, repeat: int) -> dict[str, Any]:
    reports = store = PostgresReports(pool)
    big = await pool.fetchval("SELECT count(*) FROM messages WHERE sender_service_id = $1", BIG)
    deep_row = await pool.fetchrow(
        "SELECT created_at, id FROM messages WHERE sender_service_id = $1"
        " ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
        BIG,
        min(300_000, big // 2),
    )
    if deep_row is None:
        raise SystemExit("the big service has no messages to page through")
    deep = (deep_row["created_at"], deep_row["id"])
    citizen = await pool.fetchval(
        "SELECT fiscal_code FROM messages WHERE sender_service_id = $1 LIMIT 1", BIG
    )
    found: dict[str, Any] = {}
    for name, query in _pages(deep, citizen).items():
        sql, args = page_statement(query)
        found[name] = await _timed(functools.partial(reports.page, query), repeat)
        found[name]["plan"] = await _plan(pool, sql, *args)
    for days in (30, 93):
        since = NOW - timedelta(days=days)
        name = f"stats_{days}_days"
        stats = functools.partial(reports_service.service_stats, store, BIG, since, NOW, NOW)
        found[name + "_first"] = await _timed(stats, 1)  # computes and keeps settled days
        found[name] = await _timed(stats, repeat)
        found[name]["plan_counts_live"] = await _plan(pool, DAILY_COUNTS, BIG, since, NOW)
        found[name]["plan_channels_live"] = await _plan(pool, DAILY_CHANNELS, BIG, since, NOW)
        found[name]["plan_read_paid"] = await _plan(pool, DAILY_SHARED, BIG, since, NOW)
    return found


async def _erase(pool: postgres.Pool, batches: int) -> dict[str, Any]:
    store = PostgresLifecycle(pool)
    cutoff = NOW - timedelta(days=60)
    times = []
    erased = 0
    for _ in range(batches):
        started = time.perf_counter()
        erased += await store.erase_batch(cutoff, 1000)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "batches": batches,
        "messages": erased,
        "batch_median_ms": round(statistics.median(times), 2),
        "batch_max_ms": round(max(times), 2),
    }


async def run(messages: int, repeat: int, folder: Path) -> dict[str, Any]:
    pg = EmbeddedPostgres(folder)
    url = pg.start()
    try:
        pool = await postgres.create_pool(url, min_size=1, max_size=2)
        try:
            await postgres.migrate(pool)
            report: dict[str, Any] = {"messages": messages, "seed": await _seed(pool, messages)}
            report["queries"] = await _measure(pool, repeat)
            report["eraser"] = await _erase(pool, 20)
            report["postgres"] = await pool.fetchval("SHOW server_version")
            report["table_mb"] = await pool.fetchval(
                "SELECT pg_total_relation_size('messages') / 1048576"
            )
            return report
        finally:
            await pool.close()
    finally:
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logs.configure("warning", "console")  # the report alone on stdout
    with tempfile.TemporaryDirectory(prefix="postino-bench-reports-") as folder:
        report = asyncio.run(run(args.messages, args.repeat, Path(folder)))
    text = json.dumps(report, indent=2, default=str)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
