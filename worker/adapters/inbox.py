"""PostgreSQL side of deliver: the batch context and the multi-row inbox write."""

from __future__ import annotations

from collections.abc import Sequence

from worker.adapters.postgres import Pool
from worker.services.model import (
    DeliveryContext,
    InboxRow,
    Profile,
    ServiceInfo,
    ServicePreference,
    StoredMessage,
)

_PROFILES = """
SELECT fiscal_code, inbox_enabled, push_enabled, email, email_validated, email_enabled,
       preferences_mode, blocked_channels, reminder_consent, preferred_languages
FROM profiles WHERE fiscal_code = ANY($1::text[])
"""
_SERVICES = """
SELECT id, name, organization_name, organization_fiscal_code, state, published,
       require_secure_channels
FROM services WHERE id = ANY($1::text[])
"""
_PREFERENCES = """
SELECT fiscal_code, service_id, is_inbox_enabled, is_push_enabled, is_email_enabled,
       can_access_message_read_status
FROM service_preferences WHERE fiscal_code = ANY($1::text[]) AND service_id = ANY($2::text[])
"""
_INSERT = """
INSERT INTO messages (id, fiscal_code, sender_service_id, created_at, time_to_live,
                      feature_level_type, content, status, rejection_reason, failure_reason,
                      rpt_id, due_date)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[],
                     $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::timestamptz[])
ON CONFLICT (id) DO NOTHING
"""
_STORED = """
SELECT id, fiscal_code, sender_service_id, status, rejection_reason, failure_reason,
       status_seq, processed_at
FROM messages WHERE id = ANY($1::text[])
"""


class PostgresInbox:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def load_context(
        self, fiscal_codes: Sequence[str], service_ids: Sequence[str]
    ) -> DeliveryContext:
        async with self._pool.acquire() as conn:
            profiles = await conn.fetch(_PROFILES, list(fiscal_codes))
            services = await conn.fetch(_SERVICES, list(service_ids))
            prefs = await conn.fetch(_PREFERENCES, list(fiscal_codes), list(service_ids))
        ctx = DeliveryContext()
        for r in profiles:
            fields = dict(r)
            fields["preferred_languages"] = tuple(fields["preferred_languages"] or ())
            ctx.profiles[r["fiscal_code"]] = Profile(**fields)
        for r in services:
            ctx.services[r["id"]] = ServiceInfo(**dict(r))
        for r in prefs:
            values = dict(r)
            key = (values.pop("fiscal_code"), values.pop("service_id"))
            ctx.preferences[key] = ServicePreference(**values)
        return ctx

    async def save_messages(self, rows: Sequence[InboxRow]) -> list[StoredMessage]:
        columns = (
            [r.id for r in rows],
            [r.fiscal_code for r in rows],
            [r.sender_service_id for r in rows],
            [r.created_at for r in rows],
            [r.time_to_live for r in rows],
            [r.feature_level_type for r in rows],
            [r.content for r in rows],
            [r.status.value for r in rows],
            [r.rejection_reason.value if r.rejection_reason else None for r in rows],
            [r.failure_reason.value if r.failure_reason else None for r in rows],
            [r.rpt_id for r in rows],
            [r.due_date for r in rows],
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_INSERT, *columns)
            stored = await conn.fetch(_STORED, [r.id for r in rows])
        return [StoredMessage(**dict(s)) for s in stored]
