"""PostgreSQL side of the service directory, the back-office and the shared daily quota."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from worker.adapters.postgres import Pool, repository, translated
from worker.services.backoffice_model import IO_ONLY
from worker.services.directory import Service
from worker.services.remote_content import RemoteConfig

#: Reviewed content: while a service is published, its publication's copy of the last
#: approved version is served instead of the working version (docs/integrators/services.md).
CONTENT = (
    "name",
    "organization_name",
    "organization_fiscal_code",
    "premium",
    "payments",
    "max_allowed_payment_amount",
    "authorized_recipients",
    "require_secure_channels",
    "eu_covid_cert",
    "payee_fiscal_codes",
    "description",
    "privacy_url",
    "scope",
    "email",
    "pec",
    "phone",
    "support_url",
    *IO_ONLY,
)
#: Fields of a `Service` computed from other tables (not columns of `services`).
COMPUTED = {
    "remote_configurations": "ARRAY(SELECT c.id FROM rc_configurations c"
    " WHERE c.organization_fiscal_code = s.organization_fiscal_code ORDER BY c.id)",
}
#: `FROM` clause of the live projection: `s` the working row, `p` the served copy.
LIVE_FROM = "services s LEFT JOIN service_publications p ON p.service_id = s.id AND s.published"


def live_columns(names: Iterable[str]) -> str:
    """Select-list of `names` as served: content from the published copy when there is
    one, everything else from the working row. Use with `FROM {LIVE_FROM}`."""
    return ", ".join(
        f"CASE WHEN p.service_id IS NULL THEN s.{n} ELSE p.{n} END AS {n}"
        if n in CONTENT
        else f"{COMPUTED[n]} AS {n}"
        if n in COMPUTED
        else f"s.{n}"
        for n in names
    )


_DIRECTORY_FIELDS = tuple(f.name for f in dataclasses.fields(Service))
#: The directory's `Service` fields, as served (the deliver context uses the same).
DIRECTORY_SELECT = f"SELECT {live_columns(_DIRECTORY_FIELDS)} FROM {LIVE_FROM}"
_REMOTE = """
SELECT remote_content_base_url, remote_content_header_key_name, remote_content_key
FROM services WHERE id = $1 AND state <> 'deleted' AND remote_content_base_url IS NOT NULL
"""
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


def service_from_row(row: dict[str, Any]) -> Service:
    values = dict(row)
    values["api_key_hash"] = bytes(values["api_key_hash"])
    if values.get("secondary_key_hash") is not None:
        values["secondary_key_hash"] = bytes(values["secondary_key_hash"])
    values["authorized_recipients"] = tuple(values["authorized_recipients"] or ())
    values["authorized_cidrs"] = tuple(values["authorized_cidrs"] or ())
    values["payee_fiscal_codes"] = tuple(values.get("payee_fiscal_codes") or ())
    values["remote_configurations"] = tuple(values.get("remote_configurations") or ())
    return Service(**values)


@translated
async def load_services(pool: Pool) -> list[Service]:
    rows = await pool.fetch(DIRECTORY_SELECT)
    return [service_from_row(dict(r)) for r in rows]


@repository
class ServicesRepo:
    """The directory's reads: every service as served, one entry, remote content.
    The back office's reads and writes are `backoffice_repo.BackOfficeRepo`'s."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def all(self) -> list[Service]:
        """Every service, for the ingress's in-memory directory."""
        return await load_services(self._pool)

    async def directory_entry(self, service_id: str) -> Service | None:
        row = await self._pool.fetchrow(f"{DIRECTORY_SELECT} WHERE s.id = $1", service_id)
        return None if row is None else service_from_row(dict(row))

    async def remote_content(self, service_id: str) -> RemoteConfig | None:
        """The service's remote content configuration, key included (never shown)."""
        row = await self._pool.fetchrow(_REMOTE, service_id)
        if row is None or row["remote_content_key"] is None:
            return None
        return RemoteConfig(
            row["remote_content_base_url"],
            row["remote_content_header_key_name"],
            row["remote_content_key"],
        )


@repository
class UsageRepo:
    """`service_usage`: the daily counts every ingress process adds to (one upsert per flush)."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add_usage(self, counts: Sequence[tuple[str, date, int]]) -> dict[str, int]:
        if not counts:
            return {}
        day = counts[0][1]
        # Sorted: rows are locked in the same order as deliver's upstream admissions.
        adding = sorted((sid, n) for sid, d, n in counts if d == day and n > 0)
        reading = [sid for sid, d, n in counts if d == day and n == 0]
        rows = await self._pool.fetch(
            _ADD_USAGE, [s for s, _ in adding], day, [n for _, n in adding], reading
        )
        return {r["service_id"]: int(r["count"]) for r in rows}
