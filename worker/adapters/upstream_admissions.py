"""PostgreSQL side of the upstream limits (`worker.services.upstream_limits`).

One transaction per batch: the `service_usage` rows of the batch's (service, day)
pairs are created if missing and locked in a fixed order (so concurrent deliver
processes and the ingress's flush serialise instead of deadlocking), the ledger
`upstream_admissions` says what was admitted before and how many per second, and the
new admissions are inserted and counted before the lock is released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

from worker.adapters.postgres import Pool
from worker.services.upstream_limits import Candidate, Usage, Verdicts

#: Ledger rows older than this many days are pruned (a redo never comes that late).
KEEP_DAYS = 3

_ENSURE = """
INSERT INTO service_usage (service_id, day, count)
SELECT s, d, 0 FROM unnest($1::text[], $2::date[]) AS t(s, d) ORDER BY s, d
ON CONFLICT (service_id, day) DO NOTHING
"""
_LOCK = """
SELECT u.service_id, u.day, u.count FROM service_usage u
JOIN unnest($1::text[], $2::date[]) AS t(s, d) ON u.service_id = t.s AND u.day = t.d
ORDER BY u.service_id, u.day FOR UPDATE OF u
"""
_KNOWN = "SELECT message_id FROM upstream_admissions WHERE message_id = ANY($1::text[])"
_PER_SECOND = """
SELECT a.service_id, a.second, count(*) AS n FROM upstream_admissions a
JOIN unnest($1::text[], $2::bigint[]) AS t(s, sec) ON a.service_id = t.s AND a.second = t.sec
GROUP BY a.service_id, a.second
"""
_RECORD = """
INSERT INTO upstream_admissions (message_id, service_id, day, second)
SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[])
ON CONFLICT (message_id) DO NOTHING
"""
_COUNT = """
UPDATE service_usage u SET count = u.count + t.n
FROM unnest($1::text[], $2::date[], $3::bigint[]) AS t(s, d, n)
WHERE u.service_id = t.s AND u.day = t.d
"""
_PRUNE = "DELETE FROM upstream_admissions WHERE day < $1"


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
            await conn.execute(_ENSURE, *day_cols)
            locked = await conn.fetch(_LOCK, *day_cols)
            known = await conn.fetch(_KNOWN, [c.message_id for c in candidates])
            counted = await conn.fetch(
                _PER_SECOND, [s for s, _ in seconds], [n for _, n in seconds]
            )
            verdicts = decide(
                Usage(
                    admitted=frozenset(r["message_id"] for r in known),
                    daily={(r["service_id"], r["day"]): int(r["count"]) for r in locked},
                    per_second={(r["service_id"], int(r["second"])): int(r["n"]) for r in counted},
                )
            )
            new = verdicts.admitted
            if new:
                await conn.execute(
                    _RECORD,
                    [c.message_id for c in new],
                    [c.service_id for c in new],
                    [c.day for c in new],
                    [c.second for c in new],
                )
                totals: dict[tuple[str, date], int] = {}
                for c in new:
                    totals[(c.service_id, c.day)] = totals.get((c.service_id, c.day), 0) + 1
                await conn.execute(
                    _COUNT,
                    [s for s, _ in totals],
                    [d for _, d in totals],
                    list(totals.values()),
                )
            await conn.execute(_PRUNE, min(d for _, d in days) - timedelta(days=KEEP_DAYS))
        return verdicts
