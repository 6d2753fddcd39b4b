"""PostgreSQL side of the service directory, the back-office and the shared daily quota."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from worker.adapters.postgres import Pool, repository, translated
from worker.services.directory import Service
from worker.services.remote_content import RemoteConfig

#: Reviewed content: while a service is published, its publication's copy of the last
#: approved version is served instead of the working version (IO-RULES 5).
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
)
#: `FROM` clause of the live projection: `s` the working row, `p` the served copy.
LIVE_FROM = "services s LEFT JOIN service_publications p ON p.service_id = s.id AND s.published"


def live_columns(names: Iterable[str]) -> str:
    """Select-list of `names` as served: content from the published copy when there is
    one, everything else from the working row. Use with `FROM {LIVE_FROM}`."""
    return ", ".join(
        f"CASE WHEN p.service_id IS NULL THEN s.{n} ELSE p.{n} END AS {n}"
        if n in CONTENT
        else f"s.{n}"
        for n in names
    )


_DIRECTORY_FIELDS = tuple(f.name for f in dataclasses.fields(Service))
#: The directory's `Service` fields, as served (the deliver context uses the same).
DIRECTORY_SELECT = f"SELECT {live_columns(_DIRECTORY_FIELDS)} FROM {LIVE_FROM}"
#: What the back-office shows of the working version (never key hashes nor secrets).
VIEW_COLUMNS = (
    "id, version, name, organization_name, organization_fiscal_code, state, published,"
    " reject_reason, premium, payments, max_allowed_payment_amount, authorized_recipients,"
    " authorized_cidrs, require_secure_channels, eu_covid_cert, payee_fiscal_codes, callback_url,"
    " callback_events,"
    " rate_per_second, daily_quota, description, privacy_url, scope, email, pec, phone,"
    " support_url, remote_content_base_url, remote_content_header_key_name,"
    " secondary_key_hash IS NOT NULL AS has_secondary_key, created_at, updated_at"
)
_PUBLICATION_COLUMNS = ("version", *CONTENT)
_PUBLICATION = (
    f"SELECT {', '.join(_PUBLICATION_COLUMNS)}, approved_at FROM service_publications"
    " WHERE service_id = $1"
)
# The working version of service $1 becomes the published copy (approval).
_SNAPSHOT_ROW = f"""
INSERT INTO service_publications (service_id, {", ".join(_PUBLICATION_COLUMNS)}, approved_at)
SELECT id, {", ".join(_PUBLICATION_COLUMNS)}, now() FROM services WHERE id = $1
ON CONFLICT (service_id) DO"""
_SNAPSHOT = f"""{_SNAPSHOT_ROW} UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _PUBLICATION_COLUMNS)},
    approved_at = EXCLUDED.approved_at
"""
#: Seeding: the working version becomes the published copy unless there is one.
SNAPSHOT_IF_NONE = f"{_SNAPSHOT_ROW} NOTHING"
_LIST = f"""
SELECT {VIEW_COLUMNS} FROM services
WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR organization_fiscal_code = $2)
  AND ($3::text IS NULL OR id > $3)
ORDER BY id LIMIT $4
"""
_REMOTE = """
SELECT remote_content_base_url, remote_content_header_key_name, remote_content_key
FROM services WHERE id = $1 AND state <> 'deleted' AND remote_content_base_url IS NOT NULL
"""
_EDITABLE = frozenset(
    {
        *CONTENT,
        "state",
        "published",
        "version",
        "reject_reason",
        "api_key_hash",
        "secondary_key_hash",
        "authorized_cidrs",
        "callback_url",
        "callback_secret",
        "callback_events",
        "rate_per_second",
        "daily_quota",
        "remote_content_base_url",
        "remote_content_header_key_name",
        "remote_content_key",
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
    if values.get("secondary_key_hash") is not None:
        values["secondary_key_hash"] = bytes(values["secondary_key_hash"])
    values["authorized_recipients"] = tuple(values["authorized_recipients"] or ())
    values["authorized_cidrs"] = tuple(values["authorized_cidrs"] or ())
    values["payee_fiscal_codes"] = tuple(values["payee_fiscal_codes"] or ())
    return Service(**values)


@translated
async def load_services(pool: Pool) -> list[Service]:
    rows = await pool.fetch(DIRECTORY_SELECT)
    return [service_from_row(dict(r)) for r in rows]


@repository
class ServicesRepo:
    """Back-office reads and writes. Every change runs on a row locked FOR UPDATE.

    Rows come back as the working version's columns plus `publication`: the published
    copy's content (a dict with its `version` and `approved_at`), or None.
    """

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def all(self) -> list[Service]:
        """Every service, for the ingress's in-memory directory."""
        return await load_services(self._pool)

    @staticmethod
    async def _with_publication(conn: Any, row: Any) -> dict[str, Any]:
        values = dict(row)
        copy = await conn.fetchrow(_PUBLICATION, values["id"])
        values["publication"] = None if copy is None else dict(copy)
        return values

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
        return {**dict(row), "publication": None} if row is not None else {}

    async def get(self, service_id: str) -> dict[str, Any] | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1", service_id
            )
            return None if row is None else await self._with_publication(conn, row)

    async def list(
        self,
        *,
        state: str | None,
        organization_fiscal_code: str | None,
        after: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Services ordered by id, after the cursor `after` (keyset paging)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_LIST, state, organization_fiscal_code, after, limit)
            return [await self._with_publication(conn, r) for r in rows]

    async def change(
        self, service_id: str, mutate: Mutation, *, snapshot: bool = False
    ) -> dict[str, Any] | None:
        """Apply `mutate(current row) -> column changes` atomically; None when unknown.

        With `snapshot`, the updated working version then becomes the published copy
        (approval), in the same transaction. Exceptions raised by `mutate` (an invalid
        transition, an incomplete card) roll back and propagate.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1 FOR UPDATE", service_id
            )
            if row is None:
                return None
            changes = mutate(await self._with_publication(conn, row))
            if set(changes) - _EDITABLE:
                raise ValueError(f"not editable: {sorted(set(changes) - _EDITABLE)}")
            sets = "".join(f"{col} = ${i}, " for i, col in enumerate(changes, start=2))
            updated = await conn.fetchrow(
                f"UPDATE services SET {sets}updated_at = now() WHERE id = $1"
                f" RETURNING {VIEW_COLUMNS}",
                service_id,
                *changes.values(),
            )
            if snapshot:
                await conn.execute(_SNAPSHOT, service_id)
            return None if updated is None else await self._with_publication(conn, updated)

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
