"""The inbox write returns every row of the batch as stored: the new ones from the
insert, the ones stored before (a redone batch) read after it, unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from schemas.enums import MessageStatus, RejectionReason
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
