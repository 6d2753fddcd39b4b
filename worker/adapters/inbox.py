"""PostgreSQL side of deliver: the batch context and the multi-row inbox write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from schemas.messages import to_utc
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
# a kept payment (the seq after the status event's: 2), and return what the database
# set on the rows it inserted (the rest of a stored row is what was sent). An id it
# did not insert was already stored (a redone batch, or another writer's row):
# `_STORED` reads those after, only when there are any.
# The rows go as one JSON array of `InboxRow` objects (msgspec encodes the batch in
# one call; per-row binary arrays cost asyncpg a type check per value), with every
# timestamp carrying its UTC offset, so the session's time zone never applies.
_SAVE = """
WITH v AS (
    SELECT * FROM json_to_recordset($1::json)
        AS v(id text, fiscal_code text, sender_service_id text, created_at timestamptz,
             time_to_live int, feature_level_type text, content jsonb, status text,
             rejection_reason text, failure_reason text, rpt_id text,
             due_date timestamptz, template_id text, template_version int)
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
       v.feature_level_type, COALESCE(v.content, '{}'::jsonb), v.status,
       v.rejection_reason, v.failure_reason, v.rpt_id, v.due_date, paid.paid_at,
       CASE WHEN paid.paid_at IS NULL THEN 1 ELSE 2 END,
       CASE WHEN paid.paid_at IS NULL THEN NULL ELSE 2 END,
       v.template_id, v.template_version
FROM v LEFT JOIN paid ON paid.rpt_id = v.rpt_id
ON CONFLICT (id) DO NOTHING
RETURNING id, processed_at, paid_at, paid_seq
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
        sent = [_utc(r) for r in rows]
        async with self._pool.acquire() as conn:
            inserted = await conn.fetch(_SAVE, _json.encode(sent).decode())
            by_id = {r.id: r for r in sent}
            stored = [_stored(by_id[s[0]], s[1], s[2], s[3]) for s in inserted]
            if len(stored) < len(by_id):
                # Ids stored before (a redone batch) or by another writer meanwhile
                # (committed by now: the insert waited for it): read their rows.
                seen = {s.id for s in stored}
                missing = [i for i in by_id if i not in seen]
                stored += [StoredMessage(*s) for s in await conn.fetch(_STORED, missing)]
        return stored


def _utc(row: InboxRow) -> InboxRow:
    """The row with offset-aware timestamps (the schemas make them UTC on decoding;
    a naive one from elsewhere is read as UTC, as the binary protocol would)."""
    if row.created_at.tzinfo is not None and (row.due_date is None or row.due_date.tzinfo):
        return row
    due = row.due_date
    return msgspec.structs.replace(
        row, created_at=to_utc(row.created_at), due_date=None if due is None else to_utc(due)
    )


def _stored(
    row: InboxRow, processed_at: datetime, paid_at: datetime | None, paid_seq: int | None
) -> StoredMessage:
    """The stored state of a row this write inserted: what was sent, plus what the
    database set."""
    return StoredMessage(
        row.id,
        row.fiscal_code,
        row.sender_service_id,
        row.status.value,
        row.rejection_reason.value if row.rejection_reason else None,
        row.failure_reason.value if row.failure_reason else None,
        row.created_at,
        row.time_to_live,
        processed_at,
        row.rpt_id,
        paid_at,
        paid_seq,
        row.feature_level_type,
    )
