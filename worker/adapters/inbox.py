"""PostgreSQL side of deliver: the batch context and the multi-row inbox write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import asyncpg
import msgspec

from worker.adapters.postgres import Pool, repository
from worker.adapters.services_repo import DIRECTORY_SELECT, service_from_row
from worker.services.model import (
    DeliveryContext,
    InboxRow,
    Profile,
    ServicePreference,
    StoredMessage,
)

# The whole context in one round trip: one row per service found (one row of NULL
# service columns when none is), each carrying the profiles (JSON objects of the
# `Profile` fields, decoded straight into `Profile`) and the preferences (JSON arrays:
# see `_context`). The service columns are the directory's `Service` fields, as
# served (a published service's reviewed content is its publication's copy), so both
# stay in step.
_PROFILE_COLUMNS = ", ".join(
    "COALESCE(preferred_languages, '{}') AS preferred_languages"
    if f.name == "preferred_languages"
    else f.name
    for f in fields(Profile)
)
_CONTEXT = f"""
SELECT c.profiles, c.preferences, d.*
FROM (SELECT
    (SELECT json_agg(p) FROM (
        SELECT {_PROFILE_COLUMNS} FROM profiles WHERE fiscal_code = ANY($1::text[])
     ) p)::text AS profiles,
    (SELECT json_agg(json_build_array(
                fiscal_code, service_id, is_inbox_enabled, is_push_enabled,
                is_email_enabled, can_access_message_read_status))
     FROM service_preferences
     WHERE fiscal_code = ANY($1::text[]) AND service_id = ANY($2::text[]))::text AS preferences
) c
LEFT JOIN ({DIRECTORY_SELECT} WHERE s.id = ANY($2::text[])) d ON true
"""
_CONTEXT_EXTRA = ("profiles", "preferences")
_STORED_COLUMNS = (
    "id, fiscal_code, sender_service_id, status, rejection_reason, failure_reason,"
    " created_at, time_to_live, processed_at, rpt_id, paid_at, paid_seq, feature_level_type"
)
# One statement: insert the batch, paying on arrival the rows whose rpt_id already has
# a kept payment (the seq after the status event's: 2), and return the rows it
# inserted. An id it did not insert was already stored (a redone batch, or another
# writer's row): `_STORED` reads those after, only when there are any.
_SAVE = f"""
WITH v AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::timestamptz[], $13::text[], $14::int[])
        AS v(id, fiscal_code, sender_service_id, created_at, time_to_live,
             feature_level_type, content, status, rejection_reason, failure_reason,
             rpt_id, due_date, template_id, template_version)
), paid AS (
    SELECT rpt_id, COALESCE(min(paid_at), min(received_at)) AS paid_at
    FROM payments WHERE rpt_id IN (SELECT rpt_id FROM v WHERE rpt_id IS NOT NULL)
    GROUP BY rpt_id
)
INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                      feature_level_type, content, status, rejection_reason,
                      failure_reason, rpt_id, due_date, paid_at, status_seq, paid_seq,
                      template_id, template_version)
SELECT v.id, v.fiscal_code, v.sender_service_id, v.created_at, v.time_to_live,
       v.feature_level_type, v.content::jsonb, v.status, v.rejection_reason,
       v.failure_reason, v.rpt_id, v.due_date, paid.paid_at,
       CASE WHEN paid.paid_at IS NULL THEN 1 ELSE 2 END,
       CASE WHEN paid.paid_at IS NULL THEN NULL ELSE 2 END,
       v.template_id, v.template_version
FROM v LEFT JOIN paid ON paid.rpt_id = v.rpt_id
ON CONFLICT (id) DO NOTHING
RETURNING {_STORED_COLUMNS}
"""
_STORED = f"SELECT {_STORED_COLUMNS} FROM messages WHERE id = ANY($1::text[])"

_json = msgspec.json.Encoder()
_profiles = msgspec.json.Decoder(list[Profile])
_rows = msgspec.json.Decoder(list[list[Any]])


def _context(records: Sequence[asyncpg.Record]) -> DeliveryContext:
    ctx = DeliveryContext()
    first = records[0]
    for profile in _profiles.decode(first["profiles"] or "[]"):
        ctx.profiles[profile.fiscal_code] = profile
    for r in _rows.decode(first["preferences"] or "[]"):
        ctx.preferences[(r[0], r[1])] = ServicePreference(r[2], r[3], r[4], r[5])
    for record in records:
        if record["id"] is not None:
            fields = dict(record)
            for name in _CONTEXT_EXTRA:
                del fields[name]
            ctx.services[record["id"]] = service_from_row(fields)
    return ctx


@repository
class PostgresInbox:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def load_context(
        self, fiscal_codes: Sequence[str], service_ids: Sequence[str]
    ) -> DeliveryContext:
        async with self._pool.acquire() as conn:
            records = await conn.fetch(_CONTEXT, list(fiscal_codes), list(service_ids))
        return _context(records)

    async def save_messages(self, rows: Sequence[InboxRow]) -> list[StoredMessage]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        columns = (
            ids,
            [r.fiscal_code for r in rows],
            [r.sender_service_id for r in rows],
            [r.created_at for r in rows],
            [r.time_to_live for r in rows],
            [r.feature_level_type for r in rows],
            ["{}" if r.content is None else _json.encode(r.content).decode() for r in rows],
            [r.status.value for r in rows],
            [r.rejection_reason.value if r.rejection_reason else None for r in rows],
            [r.failure_reason.value if r.failure_reason else None for r in rows],
            [r.rpt_id for r in rows],
            [r.due_date for r in rows],
            [r.template_id for r in rows],
            [r.template_version for r in rows],
        )
        async with self._pool.acquire() as conn:
            stored = [StoredMessage(*s) for s in await conn.fetch(_SAVE, *columns)]
            if len(stored) < len(set(ids)):
                # Ids stored before (a redone batch) or by another writer meanwhile
                # (committed by now: the insert waited for it): read their rows.
                seen = {s.id for s in stored}
                missing = [i for i in ids if i not in seen]
                stored += [StoredMessage(*s) for s in await conn.fetch(_STORED, missing)]
        return stored
