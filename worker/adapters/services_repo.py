"""PostgreSQL side of the service directory and the demo seed."""

from __future__ import annotations

from typing import Any

from worker.adapters.postgres import Pool
from worker.services.directory import Service

_COLUMNS = (
    "id, name, organization_name, organization_fiscal_code, state, published, api_key_hash,"
    " premium, payments, max_allowed_payment_amount, authorized_recipients, authorized_cidrs,"
    " require_secure_channels, callback_url, rate_per_second, daily_quota"
)


def service_from_row(row: dict[str, Any]) -> Service:
    values = dict(row)
    values["api_key_hash"] = bytes(values["api_key_hash"])
    values["authorized_recipients"] = tuple(values["authorized_recipients"] or ())
    values["authorized_cidrs"] = tuple(values["authorized_cidrs"] or ())
    return Service(**values)


async def load_services(pool: Pool) -> list[Service]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM services")
    return [service_from_row(dict(r)) for r in rows]
