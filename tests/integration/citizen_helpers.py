"""Helpers of the citizen API tests: inbox rows, a citizen with a message, events as dicts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp.test_utils import TestClient

from schemas.events import StatusEvent
from tests.factories import MARKDOWN, create_profile, create_service, insert_row
from tests.integration.helpers import session
from worker.bootstrap import Runtime

_ids = itertools.count(1)
BASE_TIME = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


async def insert_message(runtime: Runtime, fiscal_code: str, service_id: str, **fields: Any) -> str:
    """A PROCESSED inbox row, `n` minutes after BASE_TIME unless `created_at` is given."""
    n = next(_ids)
    values: dict[str, Any] = {
        "id": f"01JMSG{n:020d}",
        "fiscal_code": fiscal_code,
        "sender_service_id": service_id,
        "created_at": BASE_TIME + timedelta(minutes=n),
        "time_to_live": 3600,
        "feature_level_type": "STANDARD",
        "content": {"subject": f"Avviso numero {n:04d}", "markdown": MARKDOWN},
        "status": "PROCESSED",
    }
    values.update(fields)
    await insert_row(runtime, "messages", values)
    return str(values["id"])


async def inbox_with_one_message(
    runtime: Runtime, client: TestClient[Any, Any], fiscal_code: str
) -> tuple[str, dict[str, str]]:
    """A premium service, the citizen's profile, one ADVANCED inbox message from the
    service (its sender may learn of the read) and a session: (message id, headers)."""
    service_id, _ = await create_service(runtime, premium=True)
    await create_profile(runtime, fiscal_code)
    message_id = await insert_message(
        runtime, fiscal_code, service_id, feature_level_type="ADVANCED"
    )
    return message_id, await session(client, fiscal_code)


def as_dict(event: StatusEvent) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.to_builtins(event)
    return value


async def mark_read(client: TestClient[Any, Any], message_id: str, headers: dict[str, str]) -> None:
    """The citizen reads a message in the app (asserts the app accepted it)."""
    resp = await client.put(
        f"/api/v1/citizen/messages/{message_id}/message-status",
        json={"change_type": "reading", "is_read": True},
        headers=headers,
    )
    assert resp.status == 200, await resp.text()
