"""PostgreSQL side of payments: keep pagoPA events, mark every message of an rpt_id paid.

Guarantees: an event is kept once (`ON CONFLICT (event_id) DO NOTHING`); a message is
paid once, with the earliest payment time, and its `status_seq` is bumped in the same
statement that pays it (`paid_seq` keeps that number), so a redone batch returns the
same rows with the same seq and re-emits identical `MessagePaid` events.
"""

from __future__ import annotations

from collections.abc import Sequence

from worker.adapters.postgres import Pool, repository
from worker.services.payments import PaidMessage, PaymentRow

# One statement, so one round trip and one transaction per batch. The final SELECT
# reads the snapshot from before the UPDATE: rows paid earlier come from it, rows
# paid now from `upd`, never both.
_APPLY = """
WITH ev AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])
        AS e(event_id, rpt_id, paid_at, amount)
), ins AS (
    INSERT INTO payments (event_id, rpt_id, paid_at, amount)
    SELECT event_id, rpt_id, paid_at, amount FROM ev
    ON CONFLICT (event_id) DO NOTHING
), earliest AS (
    SELECT rpt_id, COALESCE(min(paid_at), now()) AS paid_at FROM ev GROUP BY rpt_id
), upd AS (
    UPDATE messages m
    SET paid_at = e.paid_at, status_seq = m.status_seq + 1, paid_seq = m.status_seq + 1
    FROM earliest e
    WHERE m.rpt_id = e.rpt_id AND m.paid_at IS NULL
    RETURNING m.id, m.sender_service_id, m.rpt_id, m.paid_at, m.paid_seq, m.feature_level_type
)
SELECT id, sender_service_id, rpt_id, paid_at, paid_seq, feature_level_type FROM upd
UNION ALL
SELECT id, sender_service_id, rpt_id, paid_at, COALESCE(paid_seq, status_seq), feature_level_type
FROM messages
WHERE rpt_id IN (SELECT rpt_id FROM earliest) AND paid_at IS NOT NULL
"""


# Messages whose payment is already kept but that are still unpaid: a message and its
# payment committed at the same moment miss each other; this pays them afterwards.
_SWEEP = """
WITH due AS (
    SELECT p.rpt_id, COALESCE(min(p.paid_at), min(p.received_at)) AS paid_at
    FROM payments p
    WHERE p.received_at > now() - make_interval(secs => $1)
      AND EXISTS (SELECT 1 FROM messages m WHERE m.rpt_id = p.rpt_id AND m.paid_at IS NULL)
    GROUP BY p.rpt_id
)
UPDATE messages m
SET paid_at = d.paid_at, status_seq = m.status_seq + 1, paid_seq = m.status_seq + 1
FROM due d
WHERE m.rpt_id = d.rpt_id AND m.paid_at IS NULL
RETURNING m.id, m.sender_service_id, m.rpt_id, m.paid_at, m.paid_seq, m.feature_level_type
"""


@repository
class PostgresPayments:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def apply_payments(self, payments: Sequence[PaymentRow]) -> list[PaidMessage]:
        rows = await self._pool.fetch(
            _APPLY,
            [p.event_id for p in payments],
            [p.rpt_id for p in payments],
            [p.paid_at for p in payments],
            [p.amount for p in payments],
        )
        return [PaidMessage(**dict(r)) for r in rows]

    async def sweep(self, lookback_seconds: float) -> list[PaidMessage]:
        rows = await self._pool.fetch(_SWEEP, lookback_seconds)
        return [PaidMessage(**dict(r)) for r in rows]
