"""PostgreSQL side of the back office: services as typed records, their changes with
the history and notices they leave, IO's offset pages, history pages, logos."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from worker.adapters.backoffice_trail import read_history, write_trail
from worker.adapters.postgres import Pool, repository
from worker.adapters.services_repo import CONTENT
from worker.services.backoffice import Mutation, TrailOf
from worker.services.backoffice_model import (
    PublicationRecord,
    ServiceRecord,
    StoredHistoryEntry,
    Trail,
)

#: What the back-office shows of the working version (never key hashes nor secrets).
VIEW_COLUMNS = (
    "id, version, name, organization_name, organization_fiscal_code, state, published,"
    " reject_reason, premium, payments, max_allowed_payment_amount, authorized_recipients,"
    " authorized_cidrs, require_secure_channels, eu_covid_cert, payee_fiscal_codes, callback_url,"
    " callback_events,"
    " rate_per_second, daily_quota, description, privacy_url, scope, email, pec, phone,"
    " support_url, topic_id, department_name, web_url, app_ios, app_android, tos_url,"
    " address, cta, auto_publish, remote_content_base_url, remote_content_header_key_name,"
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
# IO's offset paging of one body's services (deleted ones left out), with the count.
_PAGE = f"""
SELECT {VIEW_COLUMNS}, count(*) OVER () AS total FROM services
WHERE organization_fiscal_code = $1 AND state <> 'deleted'
ORDER BY id OFFSET $2 LIMIT $3
"""
_COUNT = "SELECT count(*) FROM services WHERE organization_fiscal_code = $1 AND state <> 'deleted'"
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
        "auto_publish",
    }
)


def _record(row: Any, publication: Any) -> ServiceRecord:
    values = dict(row)
    values.pop("total", None)
    values["authorized_recipients"] = list(values["authorized_recipients"] or ())
    values["authorized_cidrs"] = list(values["authorized_cidrs"] or ())
    copy = None
    if publication is not None:
        published = dict(publication)
        published["authorized_recipients"] = list(published["authorized_recipients"] or ())
        copy = PublicationRecord(**published)
    return ServiceRecord(**values, publication=copy)


async def _with_publication(conn: Any, row: Any) -> ServiceRecord:
    return _record(row, await conn.fetchrow(_PUBLICATION, row["id"]))


@repository
class BackOfficeRepo:
    """Back-office reads and writes. Every change runs on a row locked FOR UPDATE and
    writes its trail (history, notices) in the same transaction."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def create(
        self, values: dict[str, Any], trail: Callable[[ServiceRecord], Trail]
    ) -> ServiceRecord:
        unknown = set(values) - _EDITABLE - {"id"}
        if unknown:
            raise ValueError(f"not service columns: {sorted(unknown)}")
        cols = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO services ({cols}) VALUES ({params}) RETURNING {VIEW_COLUMNS}",
                *values.values(),
            )
            created = _record(row, None)
            await write_trail(conn, trail(created))
            return created

    async def get(self, service_id: str) -> ServiceRecord | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1", service_id
            )
            return None if row is None else await _with_publication(conn, row)

    async def listing(
        self,
        *,
        state: str | None,
        organization_fiscal_code: str | None,
        after: str | None,
        limit: int,
    ) -> list[ServiceRecord]:
        """Services ordered by id, after the cursor `after` (keyset paging)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_LIST, state, organization_fiscal_code, after, limit)
            return [await _with_publication(conn, r) for r in rows]

    async def page(
        self, organization_fiscal_code: str, offset: int, limit: int
    ) -> tuple[list[ServiceRecord], int]:
        """One body's services (not deleted) by id, IO's offset paging; and their count."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_PAGE, organization_fiscal_code, offset, limit)
            if rows:
                total = int(rows[0]["total"])
            else:
                total = int(await conn.fetchval(_COUNT, organization_fiscal_code))
            return [await _with_publication(conn, r) for r in rows], total

    async def change(
        self, service_id: str, mutate: Mutation, trail: TrailOf, *, snapshot: bool = False
    ) -> ServiceRecord | None:
        """Apply `mutate(current row) -> column changes` atomically; None when unknown.

        With `snapshot`, the updated working version then becomes the published copy
        (approval), in the same transaction. Exceptions raised by `mutate` (an invalid
        transition, an incomplete card, another body's service) roll back and propagate.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {VIEW_COLUMNS} FROM services WHERE id = $1 FOR UPDATE", service_id
            )
            if row is None:
                return None
            before = await _with_publication(conn, row)
            changes = mutate(before)
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
            after = await _with_publication(conn, updated)
            await write_trail(conn, trail(before, after))
            return after

    async def organization_email(self, fiscal_code: str) -> str | None:
        email: str | None = await self._pool.fetchval(
            "SELECT email FROM organizations WHERE fiscal_code = $1", fiscal_code
        )
        return email

    async def history(
        self, service_id: str, *, after: int | None, ascending: bool, limit: int
    ) -> list[StoredHistoryEntry]:
        async with self._pool.acquire() as conn:
            return await read_history(
                conn, service_id, after=after, ascending=ascending, limit=limit
            )
