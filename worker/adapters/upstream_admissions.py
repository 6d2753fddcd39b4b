"""PostgreSQL side of the upstream limits (`worker.services.upstream_limits`).

One transaction per batch, in three statements: the `service_usage` rows of the
batch's (service, day) pairs are created if missing and locked in a fixed order (so
concurrent deliver processes and the ingress's flush serialise instead of
deadlocking); then, in a statement of its own (its snapshot is taken once the locks
are held, so it sees what the previous holder committed), the ledger
`upstream_admissions` says what was admitted before and how many per second, and
ledger rows too old to matter are pruned; the new admissions are inserted and
counted before the lock is released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from asyncpg import Record

from worker.adapters.postgres import Pool
from worker.services.upstream_limits import Candidate, Usage, Verdicts

#: Ledger rows older than this many days are pruned (a redo never comes that late).
KEEP_DAYS = 3

# Creates the missing rows and locks them all, in (service, day) order: an upsert
# that rewrites `count` with itself takes the row lock of an update, like `FOR UPDATE`,
# and returns the latest committed count of a row it had to wait for.
_LOCK = """
INSERT INTO service_usage (service_id, day, count)
SELECT s, d, 0 FROM unnest($1::text[], $2::date[]) AS t(s, d) ORDER BY s, d
ON CONFLICT (service_id, day) DO UPDATE SET count = service_usage.count
RETURNING service_id, day, count
"""
# Under the lock: the candidates admitted before (`second` NULL) and the admissions per
# (service, second) of the batch's seconds; ledger rows from before day $4 are pruned
# (the reads see the ledger from before the prune, as when it ran last).
_USAGE = """
WITH pruned AS (DELETE FROM upstream_admissions WHERE day < $4)
SELECT message_id AS key, NULL::bigint AS second, 0::bigint AS n
FROM upstream_admissions WHERE message_id = ANY($1::text[])
UNION ALL
SELECT a.service_id, a.second, count(*) FROM upstream_admissions a
JOIN unnest($2::text[], $3::bigint[]) AS t(s, sec) ON a.service_id = t.s AND a.second = t.sec
GROUP BY a.service_id, a.second
"""
# The new admissions, recorded in the ledger and added to their daily counts.
_ADMIT = """
WITH recorded AS (
    INSERT INTO upstream_admissions (message_id, service_id, day, second)
    SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[])
    ON CONFLICT (message_id) DO NOTHING
)
UPDATE service_usage u SET count = u.count + t.n
FROM unnest($5::text[], $6::date[], $7::bigint[]) AS t(s, d, n)
WHERE u.service_id = t.s AND u.day = t.d
"""


class PostgresAdmissions:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def admit(
        self, candidates: Sequence[Candidate], decide: Callable[[Usage], Verdicts]
    ) -> Verdicts:
        if not candidates:
            return Verdicts()
        days = sorted({(c.service_id, c.day) for c in candidates})
        seconds = sorted({(c.service_id, c.second) for c in candidates})
        day_cols = ([s for s, _ in days], [d for _, d in days])
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetch(_LOCK, *day_cols)
            counted = await conn.fetch(
                _USAGE,
                [c.message_id for c in candidates],
                [s for s, _ in seconds],
                [n for _, n in seconds],
                min(d for _, d in days) - timedelta(days=KEEP_DAYS),
            )
            verdicts = decide(_usage(locked, counted))
            if verdicts.admitted:
                await conn.execute(_ADMIT, *_admissions(verdicts.admitted))
        return verdicts


def _usage(locked: Sequence[Record], counted: Sequence[Record]) -> Usage:
    return Usage(
        admitted=frozenset(r["key"] for r in counted if r["second"] is None),
        daily={(r["service_id"], r["day"]): int(r["count"]) for r in locked},
        per_second={
            (r["key"], int(r["second"])): int(r["n"]) for r in counted if r["second"] is not None
        },
    )


def _admissions(new: Sequence[Candidate]) -> tuple[list[Any], ...]:
    """The ledger columns of the new admissions, then their totals per (service, day)."""
    totals: dict[tuple[str, date], int] = {}
    for c in new:
        totals[(c.service_id, c.day)] = totals.get((c.service_id, c.day), 0) + 1
    return (
        [c.message_id for c in new],
        [c.service_id for c in new],
        [c.day for c in new],
        [c.second for c in new],
        [s for s, _ in totals],
        [d for _, d in totals],
        list(totals.values()),
    )
