"""The inbox write returns every row of the batch as stored: the new ones from the
insert, the ones stored before (a redone batch) read after it, unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from schemas.enums import MessageStatus, RejectionReason
from schemas.messages import MessageContent
from tests.factories import create_service
from tests.integration.deliver_helpers import citizen
from worker.adapters.inbox import PostgresInbox
from worker.bootstrap import Runtime
from worker.services.model import InboxRow


def _row(message_id: str, service_id: str, **fields: Any) -> InboxRow:
    row = InboxRow(
        id=message_id,
        fiscal_code=citizen(1),
        sender_service_id=service_id,
        created_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        time_to_live=3600,
        feature_level_type="STANDARD",
        content=None,
        status=MessageStatus.PROCESSED,
    )
    return msgspec.structs.replace(row, **fields)


async def test_a_redone_write_returns_the_rows_stored_first(runtime: Runtime) -> None:
    service_id, _ = await create_service(runtime)
    inbox = PostgresInbox(runtime.pool)
    first = await inbox.save_messages([_row("save-1", service_id)])

    again = await inbox.save_messages(
        [
            _row("save-1", service_id, status=MessageStatus.REJECTED),  # not overwritten
            _row(
                "save-2",
                service_id,
                status=MessageStatus.REJECTED,
                rejection_reason=RejectionReason.USER_NOT_FOUND,
            ),
        ]
    )

    by_id = {s.id: s for s in again}
    assert set(by_id) == {"save-1", "save-2"}
    assert by_id["save-1"] == first[0]
    assert by_id["save-1"].status == "PROCESSED"
    assert (by_id["save-2"].status, by_id["save-2"].rejection_reason) == (
        "REJECTED",
        "USER_NOT_FOUND",
    )
    assert await inbox.save_messages([_row("save-1", service_id)]) == first


async def test_the_stored_row_keeps_every_column_as_sent(runtime: Runtime) -> None:
    """The batch travels as one JSON document: timestamps keep their instant whatever
    the session's time zone (a naive one is UTC), the content its text, NULLs stay NULL,
    and what the write returns is what a later read of the row returns."""
    service_id, _ = await create_service(runtime)
    content = MessageContent(
        subject='Scadenza \u00e8 "vicina" \\ oggi',
        markdown="# Avviso\n\nRiga con tab\t e accenti \u00e0\u00f9 e emoji \U0001f4ec." * 2,
        due_date=datetime(2026, 12, 31, 23, 59, 58, 123456),  # naive: UTC
    )
    rows = [
        _row(
            "cols-1",
            service_id,
            created_at=datetime(2026, 11, 30, 12, 0, 0, 654321, tzinfo=UTC),
            content=content,
            due_date=datetime(2026, 12, 31, 23, 59, 58, 123456),
            rpt_id="01234567890123456789012345678901234",
            template_id="tpl",
            template_version=3,
        ),
        _row("cols-2", service_id, created_at=datetime(2026, 11, 30, 13, 0)),  # naive
    ]
    rome = await asyncpg.create_pool(
        runtime.settings.database.url,
        min_size=1,
        max_size=1,
        server_settings={"timezone": "Europe/Rome"},  # the session's zone never applies
    )
    try:
        stored = {s.id: s for s in await PostgresInbox(rome).save_messages(rows)}
    finally:
        await rome.close()

    assert stored["cols-1"].created_at == datetime(2026, 11, 30, 12, 0, 0, 654321, tzinfo=UTC)
    assert stored["cols-2"].created_at == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert await PostgresInbox(runtime.pool).save_messages(rows) == list(stored.values())
    got = await runtime.pool.fetch(
        "SELECT id, content::text AS content, due_date, rpt_id, template_id, template_version,"
        " rejection_reason FROM messages WHERE id = ANY($1::text[]) ORDER BY id",
        ["cols-1", "cols-2"],
    )
    first, second = got
    assert msgspec.json.decode(first["content"], type=MessageContent) == content
    assert first["due_date"] == datetime(2026, 12, 31, 23, 59, 58, 123456, tzinfo=UTC)
    assert (first["rpt_id"], first["template_id"], first["template_version"]) == (
        "01234567890123456789012345678901234",
        "tpl",
        3,
    )
    assert first["rejection_reason"] is None
    assert (second["content"], second["due_date"], second["template_id"]) == ("{}", None, None)
