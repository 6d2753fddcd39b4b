"""PostgreSQL side of the service directory, the back-office and the shared daily quota."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from worker.adapters.postgres import Pool
from worker.services.directory import Service

_COLUMNS = (
    "id, name, organization_name, organization_fiscal_code, state, published, api_key_hash,"
    " premium, payments, max_allowed_payment_amount, authorized_recipients, authorized_cidrs,"
    " require_secure_channels, callback_url, rate_per_second, daily_quota"
)
#: What the back-office shows (never the key hash nor the callback secret).
VIEW_COLUMNS = (
    "id, name, organization_name, organization_fiscal_code, state, published, reject_reason,"
    " premium, payments, max_allowed_payment_amount, authorized_recipients, authorized_cidrs,"
    " require_secure_channels, callback_url, callback_events, rate_per_second, daily_quota,"
    " created_at, updated_at"
)
_EDITABLE = frozenset(
    {
        "name",
        "organization_name",
        "organization_fiscal_code",
        "state",
        "published",
        "reject_reason",
        "api_key_hash",
        "premium",
        "payments",
        "max_allowed_payment_amount",
        "authorized_recipients",
        "authorized_cidrs",
        "require_secure_channels",
        "callback_url",
        "callback_secret",
        "callback_events",
        "rate_per_second",
        "daily_quota",
    }
)
_ADD_USAGE = """
WITH added AS (
    INSERT INTO service_usage (service_id, day, count)
    SELECT s, $2::date, n FROM unnest($1::text[], $3::bigint[]) AS t(s, n) WHERE n > 0
    ON CONFLICT (service_id, day) DO UPDATE SET count = service_usage.count + EXCLUDED.count
    RETURNING service_id, count
)
SELECT service_id, count FROM added
UNION ALL
SELECT service_id, count FROM service_usage
WHERE day = $2::date AND service_id = ANY($4::text[])
"""

Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def service_from_row(row: dict[str, Any]) -> Service:
    values = dict(row)
    values["api_key_hash"] = bytes(values["api_key_hash"])
    values["authorized_recipients"] = tuple(values["authorized_recipients"] or ())
    values["authorized_cidrs"] = tuple(values["authorized_cidrs"] or ())
    return Service(**values)


async def load_services(pool: Pool) -> list[Service]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM services")
    return [service_from_row(dict(r)) for r in rows]


class ServicesRepo:
    """Back-office writes. Every change runs on a row locked FOR UPDATE."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - _EDITABLE - {"id"}
        if unknown:
            raise ValueError(f"not service columns: {sorted(unknown)}")
        cols = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        row = await self._pool.fetchrow(
            f"INSERT INTO services ({cols}) VALUES ({params}) RETURNING {VIEW_COLUMNS}",
            *values.values(),
        )
        return dict(row) if row is not None else {}

    async def get(self, service_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1", service_id
        )
        return None if row is None else dict(row)

    async def change(self, service_id: str, mutate: Mutation) -> dict[str, Any] | None:
        """Apply `mutate(current view) -> column changes` atomically; None when unknown.

        Exceptions raised by `mutate` (an invalid transition) roll back and propagate.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1 FOR UPDATE", service_id
            )
            if row is None:
                return None
            changes = mutate(dict(row))
            if set(changes) - _EDITABLE:
                raise ValueError(f"not editable: {sorted(set(changes) - _EDITABLE)}")
            sets = ", ".join(f"{col} = ${i}" for i, col in enumerate(changes, start=2))
            updated = await conn.fetchrow(
                f"UPDATE services SET {sets}, updated_at = now() WHERE id = $1"
                f" RETURNING {VIEW_COLUMNS}",
                service_id,
                *changes.values(),
            )
            return None if updated is None else dict(updated)

    async def directory_entry(self, service_id: str) -> Service | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM services WHERE id = $1", service_id
        )
        return None if row is None else service_from_row(dict(row))


class UsageRepo:
    """`service_usage`: the daily counts every ingress process adds to (one upsert per flush)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add_usage(self, counts: Sequence[tuple[str, date, int]]) -> dict[str, int]:
        if not counts:
            return {}
        day = counts[0][1]
        adding = [(sid, n) for sid, d, n in counts if d == day and n > 0]
        reading = [sid for sid, d, n in counts if d == day and n == 0]
        rows = await self._pool.fetch(
            _ADD_USAGE, [s for s, _ in adding], day, [n for _, n in adding], reading
        )
        return {r["service_id"]: int(r["count"]) for r in rows}
